"""The consent layer: what the traffic says about the visitor's consent, for checks/consent.py.

- `table`      cmps.toml (CMPs, consent signals, purposes per platform) and PURPOSES
- `reading`    Reading: what one signal says about marketing / analytics
- `readers`    the CMP table as code: script and consent-log URLs, cookie → parser (PARSERS)
- `cmps/`      one cookie parser per CMP (onetrust, cookiebot, didomi, …)
- `tcf`, `gpp`, `usprivacy`, `consent_mode`   the IAB strings and Google consent mode
- `hits`       the signals a tracking hit carries about its own page
- `sites`      the site of a host (Public Suffix List), per which consent is kept
"""
