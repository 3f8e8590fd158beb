# SPDX-License-Identifier: MIT
"""A raw client for tests/test_respd.py: bytes out, bytes back.  Also a
program, which the test runs inside a network namespace:

    respd_client.py HOST PORT DATA_HEX SRC

connects to HOST PORT from SRC (the empty string: any address), sends the
data and half-closes (nothing sent: just reads), reads until the server
closes, and prints what came back in hex, or REFUSED.
"""
import socket
import sys


def exchange(host, port, data=b"", timeout=5.0, shut=True, src=None):
    """Connect (from @src if given), send @data, half-close if @shut, read
    until the server closes or @timeout passes with nothing read.  Return:
    the bytes read, or None if the connection was refused."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    with s:
        s.settimeout(timeout)
        if src:
            s.bind((src, 0))
        try:
            s.connect((host, port))
        except ConnectionRefusedError:
            return None
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except socket.timeout:
            pass
        return out


if __name__ == "__main__":
    host, port, data, src = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3]), sys.argv[4]
    got = exchange(host, port, data, shut=bool(data), src=src or None)
    print("REFUSED" if got is None else got.hex())
