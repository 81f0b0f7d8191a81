"""Consent signals a tracking hit carries about its own page: Google consent mode (gcs wins over gcd),
TCF `gdpr=1&gdpr_consent=`, GPP `gpp` + `gpp_sid`, US Privacy `us_privacy`, and Meta `dpo`."""

from __future__ import annotations

from pixelspy.checks.rules import params
from pixelspy.consent.consent_mode import parse_gcd, parse_gcs
from pixelspy.consent.gpp import gpp_reading
from pixelspy.consent.reading import Reading
from pixelspy.consent.tcf import tcf_reading
from pixelspy.consent.usprivacy import usprivacy_reading
from pixelspy.model import TrackingEvent


# The parameters that carry a signal read below: most hits carry none.
SIGNAL_PARAMS = frozenset({"gcs", "gcd", "gdpr", "gpp", "us_privacy", "dpo"})


def hit_readings(event: TrackingEvent) -> list[Reading]:
    out: list[Reading] = []
    ps = params(event)
    if SIGNAL_PARAMS.isdisjoint(ps):
        return out
    if (gcs := ps.get("gcs")) and (r := parse_gcs(gcs)):
        out.append(r)
    elif (gcd := ps.get("gcd")) and (r := parse_gcd(gcd)):
        out.append(r)
    if ps.get("gdpr") == "1" and (tc := ps.get("gdpr_consent")) and (r := tcf_reading("gdpr_consent", tc)):
        out.append(r)
    if (gpp := ps.get("gpp")) and (r := gpp_reading("gpp", gpp, ps.get("gpp_sid", ""))):
        out.append(r)
    if (usp := ps.get("us_privacy")) and (r := usprivacy_reading("us_privacy", usp)):
        out.append(r)
    if dpo := ps.get("dpo"):  # Meta Limited Data Use: a processing restriction, not consent
        out.append(Reading("dpo", f"Meta data processing options dpo={dpo}", choice=False))
    return out
