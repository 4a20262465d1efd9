# Temperature from the board's own sensor (RP2040 ADC 4, ESP32 internal),
# or a steady made-up value where there is none (the virtual board).
try:
    import machine
except ImportError:
    machine = None


class Sensor:
    def __init__(self, offset_c=0.0):
        self.offset = offset_c
        self.adc = None
        if machine and hasattr(machine, "ADC"):
            try:
                self.adc = machine.ADC(4)
            except (ValueError, TypeError, OSError):
                self.adc = None

    def read_celsius(self):
        if self.adc is None:
            return 21.5 + self.offset
        # RP2040 datasheet 4.9.5: 27 degC at 0.706 V, -1.721 mV per degC.
        volts = self.adc.read_u16() * 3.3 / 65535
        return 27 - (volts - 0.706) / 0.001721 + self.offset
