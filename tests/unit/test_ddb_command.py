"""ddb's command loop: lookup, help, errors, repeat, leaving (db_command.c)."""
import pytest

from ddbfake import machine_fixture
from vkernel.ddb import db_command
from vkernel.ddb.db_command import CONTINUE, EOF, PANIC, REBOOT, RESET
from vkernel.ddb.db_output import DbOutput, expand
import vkernel.kernel.uipc_usrreq  # noqa: F401,E402  (adds `show unpcb`, after the others)

machine = machine_fixture()

HELP = ("print       p           examine     x           search      set\n"
        "continue    c           trace       where       bt          call\n"
        "show        ps          reset       frame       panic       reboot\n"
        "kill        dump\n")


def out_after(text, command):
    """What ddb printed for `command` (up to the next prompt)."""
    return text.split(f"db> {command}\n", 1)[1].split("db> ", 1)[0]


def test_help_lists_commands_in_12_columns(machine):
    text, action = machine.ddb("help", "c")
    assert out_after(text, "help") == HELP
    assert action == CONTINUE


def test_help_with_a_command_prints_its_docstring(machine):
    text, _ = machine.ddb("help trace", "help kill", "c")
    assert out_after(text, "help trace").startswith("trace [pid|tid|address][,count]\n"
                                                    "The kernel stack, innermost frame first")
    assert out_after(text, "help kill").startswith("kill sig pid\nSend signal sig")


def test_unique_prefixes_exact_names_and_errors(machine):
    text, _ = machine.ddb("sho", "s", "zork", "helpme", "123", "co")
    assert out_after(text, "sho").startswith("all         registers   ")   # the show table
    assert out_after(text, "s") == "Ambiguous\n"
    assert out_after(text, "zork") == "No such command\n"
    assert out_after(text, "helpme") == HELP
    assert out_after(text, "123") == "?\n"
    assert text.endswith("db> co\n")                 # continue, by its unique prefix


@pytest.mark.parametrize("word,action", [("c", CONTINUE), ("continue", CONTINUE),
                                         ("reset", RESET), ("panic", PANIC),
                                         ("reboot", REBOOT)])
def test_commands_that_leave(machine, word, action):
    text, got = machine.ddb(word, "never read")
    assert got == action
    assert "never read" not in text


def test_eof_leaves_with_eof(machine):
    assert machine.ddb()[1] == EOF


def test_show_lists_its_table_and_show_all(machine):
    text, _ = machine.ddb("show", "show all", "show nosuch", "c")
    # in registration order, which follows module imports: compare as sets
    assert sorted(out_after(text, "show").split()) == sorted(
        ["all", "registers", "panic", "proc", "thread", "files", "mount", "ktrace", "sysctl",
         "msgbuf", "unpcb"])
    assert out_after(text, "show all") == "procs\n"
    assert out_after(text, "show nosuch") == "No such command\n"


def test_a_python_error_in_a_command_returns_to_the_prompt(machine, monkeypatch):
    def broken(db, arg, modif):
        raise ValueError("boom")
    monkeypatch.setitem(db_command._aux_commands, "broken", broken)
    text, action = machine.ddb("broken", "c")
    assert out_after(text, "broken") == "db: ValueError in ddb: boom\n"
    assert action == CONTINUE


def test_subsystems_register_show_commands(machine, monkeypatch):
    def show_widgets(db, arg, modif):
        """show widgets: a test's own show command."""
        db.printf(f"widgets {arg}\n")
    monkeypatch.setitem(db_command._show_commands, "widgets", show_widgets)
    text, _ = machine.ddb("show widgets 3", "show wid 4", "c")
    assert out_after(text, "show widgets 3") == "widgets 3\n"
    assert out_after(text, "show wid 4") == "widgets 4\n"


def test_set_and_variables(machine):
    text, _ = machine.ddb("set $foo = 10", "print $foo", "set $radix 0t10", "print 10",
                          "set $radix = 7", "set foo 1", "print $nosuch", "c")
    assert "$1 = 16\n" in text                        # 10 in radix 16
    assert "$2 = 10\n" in text                        # 10 in radix 10
    assert out_after(text, "set $radix = 7") == "Bad radix (8, 10 or 16)\n"
    assert out_after(text, "set foo 1") == "Unknown variable\n"
    assert out_after(text, "print $nosuch") == "Unknown variable $nosuch\n"


def test_empty_line_repeats_the_last_command(machine):
    text, _ = machine.ddb("print 1", "", "c")
    assert "$1 = 1\n" in text and "$2 = 1\n" in text


def test_output_holds_back_blanks_and_expands_tabs():
    got = []
    out = DbOutput(got.append)
    out.printf("a\tb   \n")
    out.printf("fault code\t\t= x\n")
    assert "".join(got) == "a       b\nfault code              = x\n"
    assert expand("Stopped at\tsym:\tinsn") == "Stopped at      sym:    insn"
    out.printf("x" * 70)
    out.end_line(12)
    assert out.position == 0
