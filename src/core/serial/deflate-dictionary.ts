/**
 * The preset dictionary a push's deflate blocks are primed with (board_helpers.py `_OTA_DICT`,
 * transfer.ts): typical MicroPython source text, so the first uses of `import machine`,
 * `def __init__(self, ` or `while True:` in a small project cost a back-reference instead of their
 * letters. It travels once, inside the board helpers cached on the board and covered by their
 * SHA-256 (board-helpers.ts), so it costs nothing per session. Generic on purpose: written from
 * common MicroPython idioms (the docs' quick references), not from any one project.
 *
 * Kept well under the board's 4 KB inflate window (wbits 12), so data in a block can reach back
 * into all of it. Deflate codes near distances in fewer bits: the commonest text comes last.
 * Changing it changes the helpers' hash: boards then fetch the new helpers once.
 */
export const DEFLATE_DICTIONARY = `{"ssid": "", "password": "", "name": "", "host": "", "port": 1883, "enabled": true, "interval_s": 60, "pin": 2, "value": null, "offset": 0.0}
import socket
import struct
import ubinascii
import urequests
import ujson
import uasyncio as asyncio
from machine import Pin, I2C, SPI, ADC, PWM, UART, Timer, RTC, WDT
import neopixel
import framebuf
import ssd1306
import dht
# Read the sensor and print the value to the serial console, and keep
# the board running: if there is no network, try again later.


class Device:
    """A small driver for a device on the bus."""

    def __init__(self, i2c, addr=0x3C, width=128, height=64):
        self.i2c = i2c
        self.addr = addr
        self.buf = bytearray(2)
        self.data = None

    def read(self):
        self.i2c.readfrom_mem_into(self.addr, 0x00, self.buf)
        return self.buf[0] << 8 | self.buf[1]

    def write(self, reg, value):
        self.i2c.writeto_mem(self.addr, reg, bytes([value]))


def connect(ssid, password, timeout=10):
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        print("connecting to", ssid)
        wlan.connect(ssid, password)
        start = time.ticks_ms()
        while not wlan.isconnected():
            if time.ticks_diff(time.ticks_ms(), start) > timeout * 1000:
                raise OSError("timeout")
            time.sleep_ms(100)
    print("network config:", wlan.ifconfig())
    return wlan


def main():
    led = Pin(2, Pin.OUT)
    button = Pin(0, Pin.IN, Pin.PULL_UP)
    i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400000)
    adc = ADC(Pin(34))
    try:
        with open("config.json") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        print("error:", e)
        config = {}
    count = 0
    while True:
        led.value(not led.value())
        value = adc.read_u16() * 3.3 / 65535
        print("%s: %.1f" % (count, value))
        print("{}: {:.2f}".format(count, value))
        count += 1
        if button.value() == 0:
            break
        gc.collect()
        time.sleep(1)


if __name__ == "__main__":
    main()
import gc
import os
import sys
import json
import time
import machine
import network
from micropython import const
`;
