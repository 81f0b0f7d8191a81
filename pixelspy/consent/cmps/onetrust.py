"""OneTrust `OptanonConsent`: a query string whose `groups` say C0004:1 (targeting), C0002:0…"""

from __future__ import annotations

from urllib.parse import parse_qsl

from pixelspy.consent.reading import Reading


def parse_onetrust(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    fields = dict(parse_qsl(value, keep_blank_values=True))
    if "groups" not in fields:
        return None
    groups = {}
    for part in fields["groups"].split(","):
        gid, _, flag = part.partition(":")
        if flag in ("0", "1"):
            groups[gid.strip()] = flag == "1"
    wanted = entry.get("groups", {"marketing": "C0004", "analytics": "C0002"})
    purposes = {p: groups[g] for p, g in wanted.items() if g in groups}
    interacted = fields.get("interactionCount", "0") not in ("", "0") or "OptanonAlertBoxClosed" in cookies
    # Group ids are the site's to choose: a group of OneTrust's default scheme missing means
    # this site numbers its groups otherwise, and the purposes not found are not known.
    if not purposes:
        return Reading(name, f"{name} groups {fields['groups'][:80]}", choice=interacted, unmapped=True)
    shown = ",".join(f"{wanted[p]}:{int(v)}" for p, v in purposes.items())
    return Reading(name, f"{name} groups {shown}" + ("" if interacted else " (defaults, no interaction)"),
                   purposes, choice=interacted, unmapped=len(purposes) < len(wanted))
