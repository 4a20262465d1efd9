// The board's own modules (machine, network, socket, ssl, ntptime, and board flavours of time,
// hashlib, gc, os), written in MicroPython over the JavaScript module `_board` (see worker.ts), one
// file each in ./py/. They are frozen into the firmware image at boot, so they cost no flash, as
// frozen modules on a real board. socket moves data by address (uctypes.addressof), so reading into a
// preallocated buffer allocates nothing, as on a board; ssl verifies as mbedTLS ports do.
import '../core/text-import';
import machine from './py/machine.py';
import network from './py/network.py';
import socket from './py/socket.py';
import ssl from './py/ssl.py';
import time from './py/time.py';
import ntptime from './py/ntptime.py';
import hashlib from './py/hashlib.py';
import hashlibNoSha1 from './py/hashlib_no_sha1.py';
import binascii from './py/binascii.py';
import gc from './py/gc.py';
import os from './py/os.py';
import boardExec from './py/_board_exec.py';

/** Module sources by the name they are imported as; `sha1: false` leaves hashlib with SHA-256 only. */
export function boardModules(opts: { sha1: boolean }): Record<string, string> {
  return {
    machine,
    network,
    socket,
    ssl,
    time,
    ntptime,
    hashlib: opts.sha1 ? hashlib : hashlibNoSha1,
    binascii,
    gc,
    os,
    _board_exec: boardExec,
  };
}
