"""`pixelspy ca`: where the CA certificate is, and the shell lines that make a backend or SDK use the proxy."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from pixelspy.cli.common import Parser, port_arg
from pixelspy.inert import inert
from pixelspy.proxy import CA_BUNDLE_NAME, ca_cert_path, write_ca_bundle


NO_PROXY = "localhost,127.0.0.1,::1"  # what `pixelspy ca` keeps off the proxy


def ca_main(argv: list[str]) -> int:
    p = Parser(
        prog="pixelspy ca",
        description="Print where pixelspy's CA certificate is (created when missing) and the shell lines that "
                    "make a backend or SDK use the proxy and trust it: eval \"$(pixelspy ca --bundle)\". "
                    "See docs/server-side.md.")
    p.add_argument("--confdir", default=None, help="mitmproxy configuration directory, an existing one (default ~/.mitmproxy, made when missing)")
    p.add_argument("-p", "--port", type=port_arg, default=8080, help="proxy port for HTTPS_PROXY (default 8080)")
    p.add_argument("--bundle", action="store_true",
                   help=f"also write {CA_BUNDLE_NAME} (public roots + the CA) next to the CA and point "
                        "REQUESTS_CA_BUNDLE, SSL_CERT_FILE and CURL_CA_BUNDLE at it")
    p.add_argument("--path", action="store_true", help="print only the path (of the bundle with --bundle)")
    args = p.parse_args(argv)
    if args.confdir and not Path(args.confdir).expanduser().is_dir():
        # A typo would silently make a second CA, not the one the proxy uses.
        print(inert(f"pixelspy: --confdir {args.confdir}: no such directory (to make a new CA there, "
                    f"create it first: mkdir -p {shlex.quote(args.confdir)})"), file=sys.stderr)
        return 2
    try:
        ca = ca_cert_path(args.confdir)
        trust = write_ca_bundle(args.confdir) if args.bundle else ca
    except OSError as e:
        print(f"pixelspy: cannot create the CA in {args.confdir or '~/.mitmproxy'}: {e.strerror or e}", file=sys.stderr)
        return 2
    if args.path:
        print(trust)
        return 0
    proxy = f"http://127.0.0.1:{args.port}"
    lines = [f"# pixelspy CA certificate: {ca}",
             *([] if args.bundle else ["# These replace the system roots for hosts that bypass the proxy; "
                                       "--bundle keeps them (public roots + this CA)."]),
             f"export HTTPS_PROXY={proxy}", f"export HTTP_PROXY={proxy}",
             # Local services (a dev database's API, the app's own server) stay direct.
             f"export NO_PROXY={NO_PROXY}", f"export no_proxy={NO_PROXY}",
             *(f"export {name}={shlex.quote(str(trust))}" for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
                                                                          "CURL_CA_BUNDLE")),
             f"export NODE_EXTRA_CA_CERTS={shlex.quote(str(ca))}"]  # Node adds it to its own roots
    print("\n".join(lines))
    return 0
