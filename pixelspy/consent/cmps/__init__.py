"""Cookie parsers of the consent management platforms, one module per CMP or family of cookie
formats. Each parser has the `Parser` signature (pixelspy/consent/reading.py); cmps.toml names the
parser that reads each cookie, and pixelspy/consent/readers.py registers them under those names."""
