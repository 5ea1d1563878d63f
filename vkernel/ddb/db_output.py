"""Debugger output with column tracking (DragonFly sys/ddb/db_output.c).

db_printf never sends a tab and never sends trailing blanks: spaces and tabs
only move the output column, and are turned into spaces when a printing
character follows.  That is why ddb's tab-aligned reports ("fault code<TAB>
<TAB>= ...") reach the console as runs of spaces, exactly as in the seed
transcript.  `end_line(width)` starts a new line when a field of that width
would pass `max_width` (help's %-12s columns, x/'s values).
"""


class DbOutput:
    """db_putchar and friends over a sink(str) callable."""

    def __init__(self, sink, max_width=79, tab_width=8):
        self.sink = sink
        self.max_width = max_width
        self.tab_width = tab_width
        self.position = 0          # db_output_position: the output column
        self.last_non_space = 0    # db_last_non_space

    def _next_tab(self, col):
        w = max(1, self.tab_width)
        return (col + w) // w * w

    def printf(self, text):
        """Write text, tracking the column; whitespace is held back."""
        out = []
        for c in text:
            if c in "\n\r":
                out.append(c)
                self.position = self.last_non_space = 0
            elif c == "\t":
                self.position = self._next_tab(self.position)
            elif c == " ":
                self.position += 1
            elif c == "\a":
                out.append(c)
            elif c.isprintable():
                out.append(" " * (self.position - self.last_non_space))
                out.append(c)
                self.position += 1
                self.last_non_space = self.position
        if out:
            self.sink("".join(out))

    write = printf

    def end_line(self, field_width):
        """db_end_line: a newline if a field this wide would pass max_width."""
        if self.position + field_width > self.max_width:
            self.printf("\n")

    def newline_if_needed(self):
        if self.position != 0:
            self.printf("\n")

    def reset_column(self):
        """The terminal echoed a newline we did not write (after a prompt)."""
        self.position = self.last_non_space = 0


def expand(text, tab_width=8):
    """What DbOutput would send for `text` (for tests and string building)."""
    parts = []
    DbOutput(parts.append, tab_width=tab_width).printf(text)
    return "".join(parts)
