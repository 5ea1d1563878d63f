"""Virtual CPUs without ptrace: per-CPU run queues, kicks, callouts, where a
new thread starts (kern_synch.SleepQueues, trap.Cpu) and ddb's stop_cpus."""
import time
import types

import pytest

from vkernel.ddb.db_interface import stop_cpus
from vkernel.kernel import kern_proc
from vkernel.kernel.kern_synch import WAKE_NORMAL, Sleep, sched
from vkernel.kernel.proc import Lwp, Proc
from vkernel.kernel.trap import Cpu, balance_cpus
from vkernel.platform.fake import FakePlatform


class CountingTracer(FakePlatform):
    """A fake CPU's platform half that counts its kicks."""

    def __init__(self):
        super().__init__()
        self.kicks = 0

    def kick(self):
        self.kicks += 1


@pytest.fixture
def cpus(monkeypatch):
    monkeypatch.setattr(sched, "cpus", [])
    monkeypatch.setattr(sched, "curcpu", None)
    monkeypatch.setattr(sched, "runq", [])
    monkeypatch.setattr(sched, "timers", [])
    monkeypatch.setattr(kern_proc, "alllwp", {})
    c = [Cpu(i, CountingTracer(), None, None) for i in range(2)]
    sched.curcpu = c[0]
    return c


def thread(cpu, oncpu=False, tid=100):
    td = Lwp(Proc(tid, None), tid, None)
    cpu.assign(td)
    td.td_oncpu = oncpu
    kern_proc.alllwp[tid] = td
    return td


def sleep_on(td, chan):
    with pytest.raises(Sleep):
        sched.sleep(td, [chan], "test")


def test_cpu0_uses_the_schedulers_run_queue(cpus):
    assert cpus[0].runq is sched.runq and cpus[1].runq is not sched.runq
    assert sched.cpus == cpus


def test_a_wakeup_queues_on_the_threads_cpu_and_kicks_it(cpus):
    td = thread(cpus[1])
    sleep_on(td, "chan")
    sched.wakeup("chan")
    assert cpus[1].runq == [td] and cpus[0].runq == []
    assert cpus[1].tracer.kicks == 1 and td.td_wakeup == WAKE_NORMAL


def test_a_wakeup_on_the_current_cpu_does_not_kick(cpus):
    td = thread(cpus[0])
    sleep_on(td, "chan")
    sched.wakeup("chan")
    assert cpus[0].runq == [td] and cpus[0].tracer.kicks == 0


def test_unsleep_takes_it_off_its_cpus_queue(cpus):
    td = thread(cpus[1])
    sleep_on(td, "chan")
    sched.wakeup("chan")
    sched.unsleep(td)
    assert cpus[1].runq == []


def test_an_earlier_callout_from_another_cpu_kicks_cpu0(cpus):
    sched.curcpu = cpus[1]
    sched.callout(time.monotonic() + 10, lambda: None)
    assert cpus[0].tracer.kicks == 1
    sched.callout(time.monotonic() + 20, lambda: None)       # not the earliest
    assert cpus[0].tracer.kicks == 1
    assert cpus[0]._deadline() == sched.next_deadline() and cpus[1]._deadline() is None


def test_a_new_thread_goes_to_the_least_loaded_cpu(cpus):
    thread(cpus[0], tid=100)                       # the forking thread, in the kernel
    assert cpus[0]._least_loaded() is cpus[1]
    thread(cpus[1], tid=101)                       # on its way there (or running)
    assert cpus[0]._least_loaded() is cpus[0]      # a tie: no move
    sleep_on(thread(cpus[0], tid=102), "chan")     # asleep: not load
    assert cpus[0]._least_loaded() is cpus[0]
    thread(cpus[0], oncpu=True, tid=103)
    assert cpus[0]._least_loaded() is cpus[1]


def test_a_stopped_cpu_gets_no_new_threads(cpus):
    cpus[1].stop()
    assert cpus[0]._least_loaded() is cpus[0]
    assert cpus[1].tracer.kicks == 1 and not cpus[1].running


def test_an_ipi_runs_on_the_target_cpu(cpus):
    ran = []
    cpus[1].send_ipi(lambda: ran.append(1))
    assert cpus[1].tracer.kicks == 1 and ran == []
    assert cpus[1]._deadline() == 0
    cpus[1].run_ipiq()
    assert ran == [1] and cpus[1].ipiq == []


def test_ddb_stops_the_other_cpus_guests(cpus):
    interrupted = []
    host = types.SimpleNamespace(interrupt=lambda: interrupted.append("b"))
    thread(cpus[1], oncpu=True, tid=101).host = host
    thread(cpus[1], oncpu=False, tid=102).host = types.SimpleNamespace(
        interrupt=lambda: interrupted.append("sleeping"))
    thread(cpus[0], oncpu=True, tid=103).host = types.SimpleNamespace(
        interrupt=lambda: interrupted.append("own cpu"))
    ctx = types.SimpleNamespace(cpu=cpus[0])
    assert stop_cpus(ctx) == 0b10
    assert interrupted == ["b"]


def test_an_idle_cpu_polls_only_on_a_host_cpu_of_its_own(cpus):
    assert not cpus[0]._may_poll()                  # not pinned (-l any, the fake)
    cpus[0].tracer.host_cpu, cpus[1].tracer.host_cpu = 0, 1
    assert cpus[0]._may_poll() and cpus[1]._may_poll()
    cpus[1].tracer.host_cpu = 0                     # -n 4 on 2 host CPUs: shared
    assert not cpus[0]._may_poll()


class Host:
    """A platform thread that records interrupts."""

    def __init__(self):
        self.interrupts = 0

    def interrupt(self):
        self.interrupts += 1


def busy(cpu, tid):
    td = thread(cpu, oncpu=True, tid=tid)
    td.host = Host()
    td.lwp_proc.p_lwps[tid] = td
    cpu.oncpu.add(td)
    return td


def test_the_balancer_leaves_a_difference_of_one(cpus):
    busy(cpus[0], 100)
    busy(cpus[0], 101)
    busy(cpus[1], 102)
    assert balance_cpus() is None


def test_the_balancer_interrupts_one_thread_of_the_busiest_cpu(cpus):
    a, b = busy(cpus[0], 100), busy(cpus[0], 101)
    td = balance_cpus()
    assert td in (a, b) and td.td_migrate is cpus[1] and td.host.interrupts == 1
    assert balance_cpus() in (a, b) and a.td_migrate and b.td_migrate    # the other one
    assert balance_cpus() is None                                         # both marked
