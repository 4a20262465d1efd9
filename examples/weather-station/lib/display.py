# The station's display. A real build drives an SSD1306 over I2C; printing
# keeps the example runnable on any board and on the virtual one.


class Display:
    def __init__(self, title):
        self.title = title

    def show(self, celsius):
        print("%s: %.1f C" % (self.title, celsius))
