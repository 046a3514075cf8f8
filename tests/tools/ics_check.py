#!/usr/bin/env python3
"""Checks an iCalendar invitation (read on stdin) with two real parsers and
prints what they found as JSON on stdout.

- Python `icalendar` parses it: METHOD, UID, SEQUENCE, STATUS, DTSTART/DTEND
  (and whether they are UTC), SUMMARY, URL, LOCATION, DESCRIPTION, ORGANIZER
  and every ATTENDEE with its parameters.
- libical (Debian `gir1.2-ical-3.0`, through PyGObject) parses it and runs its
  iTIP restriction check (RFC 5546: which properties a METHOD requires or
  forbids); every problem it finds becomes an X-LIC-ERROR property, which are
  counted and listed. With `--feed` (a subscribed calendar, which has no
  METHOD), only the parser's problems count.

Debian's PyGObject lives with the system Python, which may not be the
`python3` that has `icalendar`; the libical half therefore runs in
`/usr/bin/python3` when this interpreter cannot load it (`--libical` mode).
Exit status 0 when both parsers ran (the JSON says what they found), 1 otherwise.
"""

import json
import os
import subprocess
import sys

SYSTEM_PYTHON = "/usr/bin/python3"


def libical_report(text, restrictions=True):
    import gi

    gi.require_version("ICalGLib", "3.0")
    from gi.repository import ICalGLib as ICal

    comp = ICal.Component.new_from_string(text)
    if comp is None:
        return {"parsed": False, "errors": 1, "messages": ["libical could not parse the text"]}
    # Parser problems are X-LIC-ERROR properties already; the restriction
    # check adds one per violated iTIP rule.
    valid = bool(ICal.restriction_check(comp)) if restrictions else None
    messages = []

    def walk(c):
        prop = c.get_first_property(ICal.PropertyKind.XLICERROR_PROPERTY)
        while prop is not None:
            messages.append(prop.get_value_as_string() or prop.as_ical_string())
            prop = c.get_next_property(ICal.PropertyKind.XLICERROR_PROPERTY)
        child = c.get_first_component(ICal.ComponentKind.ANY_COMPONENT)
        while child is not None:
            walk(child)
            child = c.get_next_component(ICal.ComponentKind.ANY_COMPONENT)

    walk(comp)
    return {
        "parsed": True,
        "kind": ICal.Component.kind_to_string(comp.isa()),
        "restrictions_ok": valid,
        "errors": len(messages),
        "messages": messages,
    }


def libical_here():
    try:
        import gi

        gi.require_version("ICalGLib", "3.0")
        return True
    except (ImportError, ValueError):
        return False


def libical_check(text, restrictions):
    if libical_here():
        return libical_report(text, restrictions)
    if not os.path.exists(SYSTEM_PYTHON):
        raise SystemExit("libical's Python binding is not installed (Debian: gir1.2-ical-3.0 python3-gi)")
    out = subprocess.run(
        [SYSTEM_PYTHON, os.path.abspath(__file__), "--libical"] + ([] if restrictions else ["--feed"]),
        input=text.encode("utf-8"),
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def params(prop):
    return {k.upper(): str(v) for k, v in prop.params.items()}


def icalendar_report(raw):
    import icalendar

    cal = icalendar.Calendar.from_ical(raw)
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    out = {
        "prodid": str(cal.get("PRODID", "")),
        "version": str(cal.get("VERSION", "")),
        "calscale": str(cal.get("CALSCALE", "")),
        "method": str(cal.get("METHOD", "")),
        "events": len(events),
    }
    if not events:
        return out
    ev = events[0]

    def when(name):
        prop = ev.get(name)
        if prop is None:
            return None
        dt = prop.dt
        tz = getattr(dt, "tzinfo", None)
        return {
            "value": dt.isoformat(),
            "utc": tz is not None and dt.utcoffset().total_seconds() == 0,
            "raw": prop.to_ical().decode(),
        }

    attendees = ev.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    organizer = ev.get("ORGANIZER")
    out.update(
        {
            "uid": str(ev.get("UID", "")),
            "sequence": int(ev.get("SEQUENCE", -1)),
            "status": str(ev.get("STATUS", "")),
            "summary": str(ev.get("SUMMARY", "")),
            "description": str(ev.get("DESCRIPTION", "")),
            "location": str(ev.get("LOCATION", "")),
            "url": str(ev.get("URL", "")),
            "dtstamp": when("DTSTAMP"),
            "dtstart": when("DTSTART"),
            "dtend": when("DTEND"),
            "organizer": None
            if organizer is None
            else {"value": str(organizer), "params": params(organizer)},
            "attendees": [{"value": str(a), "params": params(a)} for a in attendees],
        }
    )
    return out


def main():
    raw = sys.stdin.buffer.read()
    text = raw.decode("utf-8")
    flags = sys.argv[1:]
    restrictions = "--feed" not in flags
    if "--libical" in flags:
        print(json.dumps(libical_report(text, restrictions)))
        return
    report = {
        "crlf_only": b"\n" not in raw.replace(b"\r\n", b""),
        "longest_line_octets": max((len(line) for line in raw.split(b"\r\n")), default=0),
        "icalendar": icalendar_report(raw),
        "libical": libical_check(text, restrictions),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
