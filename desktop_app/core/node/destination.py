"""Where results are sent: a DICOM destination written ``AET@HOST:PORT``.

One string names a destination everywhere (``serve --send-to``, the settings, the outbox
rows), in the form PACS administrators write it. It is checked where it enters: an AE title
of 1 to 16 characters without backslash or control characters (PS3.5 6.2, VR AE), a host
and a port from 1 to 65535. A malformed one is refused with the value quoted, never
"corrected".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Destination"]

_FORM = re.compile(r"(?P<ae>[^@]+)@(?P<host>\[[0-9A-Fa-f:.]+\]|[^:@\s]+):(?P<port>[0-9]+)")


@dataclass(frozen=True)
class Destination:
    """A DICOM Storage SCP to send results to.

    Attributes:
        ae_title: Its AE title (the called AE).
        host: Its address or host name.
        port: Its TCP port.
    """

    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        title = self.ae_title.strip()
        if not 0 < len(title) <= 16 or "\\" in title \
                or any(ord(c) < 32 or ord(c) > 126 for c in title):
            raise ValueError(f"AE title must be 1 to 16 printable ASCII characters without "
                             f"a backslash, got {self.ae_title!r}")
        if not self.host or any(c.isspace() for c in self.host):
            raise ValueError(f"host must be an address or a name, got {self.host!r}")
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"port must be 1 to 65535, got {self.port!r}")
        object.__setattr__(self, "ae_title", title)

    @classmethod
    def parse(cls, text: str) -> Destination:
        """Read ``AET@HOST:PORT`` (IPv6 hosts in brackets: ``PACS@[::1]:104``).

        Raises:
            ValueError: Quoting ``text``, if it is not of that form.
        """
        match = _FORM.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"a destination is AET@HOST:PORT (e.g. PACS@10.0.0.5:104), "
                             f"got {text!r}")
        try:
            return cls(match["ae"], match["host"].strip("[]"), int(match["port"]))
        except ValueError as error:
            raise ValueError(f"{error} in the destination {text!r}") from None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"
