#!/usr/bin/env python3
"""Prints N TCP ports that are free on both 127.0.0.1 and [::1].

Chosen at random below the kernel's ephemeral range, so that an outgoing
connection cannot take one between this check and the server's bind.
"""
import random
import socket
import sys


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free(port):
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def main():
    want = int(sys.argv[1])
    high = min(ephemeral_low(), 32768) - 1
    candidates = list(range(20000, high))
    random.shuffle(candidates)
    chosen = []
    for port in candidates:
        if free(port):
            chosen.append(port)
            if len(chosen) == want:
                print(" ".join(map(str, chosen)))
                return 0
    print("no free loopback ports", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
