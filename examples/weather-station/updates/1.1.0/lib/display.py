# The station's display. A real build drives an SSD1306 over I2C; printing
# keeps the example runnable on any board and on the virtual one.


class Display:
    def __init__(self, title):
        self.title = title

    def show(self, celsius):
        # 1.1.0: Fahrenheit beside Celsius.
        print("%s: %.1f C / %.1f F" % (self.title, celsius, celsius * 9 / 5 + 32))
