#!/usr/bin/env python3
"""The fan-out benchmark's reference: a plain Python smtplib sender pushing N
messages (a text and an HTML part, about the size of a Firebreak update
email) to one SMTP server over one connection, one message per recipient,
and printing how many seconds that took.

usage: smtplib_sender.py PORT COUNT [--bytes 6000]"""
import argparse
import smtplib
import time
from email.message import EmailMessage


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--bytes", type=int, default=6000)
    args = ap.parse_args()
    text = ("Some requests to the checkout API fail. We are rolling back the latest deploy. " * 200)[: args.bytes // 3]
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", args.port) as smtp:
        for i in range(args.count):
            msg = EmailMessage()
            msg["From"] = "Status <status@bench.example>"
            msg["To"] = f"subscriber{i}@bench.example"
            msg["Subject"] = "Identified: Checkout errors"
            msg.set_content(text)
            msg.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
            smtp.send_message(msg)
    print(f"{time.perf_counter() - start:.2f}")


if __name__ == "__main__":
    main()
