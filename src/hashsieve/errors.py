"""Exception types raised by the library; the CLI turns them into clear messages and exit codes."""


class HashsieveError(Exception):
    """Base class for errors a user can act on."""


class HashSetFormatError(HashsieveError):
    """A hash-set file cannot be read at all (unknown format, unreadable, empty)."""


class UnknownCaseError(HashsieveError):
    """A case name that the store does not hold."""


class UnknownHashSetError(HashsieveError):
    """A hash-set name that the store does not hold."""


class DuplicateNameError(HashsieveError):
    """A case or hash set with that name already exists."""
