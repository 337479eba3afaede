"""Error types raised on bad input.

Every error that comes from user data names the *source* (a file path, or a description
such as ``"<in-memory>"``) and the *field* (a column such as ``charge`` or ``label``), so a
physicist converting their own data knows exactly what to fix.
"""

from __future__ import annotations


class TPCInterpError(Exception):
    """Base class of all errors raised deliberately by the toolkit."""


class ClusterDataError(TPCInterpError, ValueError):
    """A cluster file or in-memory cluster set violates the schema.

    Attributes:
        source: File path or description of where the data came from.
        field: Name of the offending field (``charge``, ``label``, ...), or ``None`` when the
            problem concerns the whole file (empty, truncated, unreadable).
        reason: Human-readable description of the problem.
    """

    def __init__(self, source: str | None, field: str | None, reason: str) -> None:
        self.source = str(source) if source is not None else "<in-memory>"
        self.field = field
        self.reason = reason
        where = f"{self.source}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {reason}")


class UnknownNameError(TPCInterpError, KeyError):
    """A name (chamber, model, format, study) is not in its registry."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        super().__init__(name)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        text = f"unknown {self.kind} '{self.name}'; known: {', '.join(self.known) or '(none)'}"
        hint = self.suggestion()
        return text + (f"; did you mean '{hint}'?" if hint else "")

    def suggestion(self) -> str | None:
        """The known name differing only in case, else the closest spelling (or ``None``)."""
        import difflib

        same = [k for k in self.known if k.casefold() == str(self.name).casefold()]
        if same:
            return same[0]
        folded = {k.casefold(): k for k in self.known}
        close = difflib.get_close_matches(str(self.name).casefold(), list(folded), 1, 0.6)
        return folded[close[0]] if close else None


class UnknownChamberError(UnknownNameError):
    """A chamber name is not registered."""

    def __init__(self, name: str, known: list[str] | tuple[str, ...]) -> None:
        super().__init__("chamber", name, known)


class ShapeMismatchError(TPCInterpError, ValueError):
    """Window shapes of data and model (or of two files) disagree, or the ADC dtype a model's
    input takes."""
