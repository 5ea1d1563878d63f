"""The x86-64 rt signal frame, sigcontext, ucontext, fxsave area and ptrace register sets.

Linux counterparts: arch/x86/include/uapi/asm/sigcontext.h (struct sigcontext,
struct _fpstate_64), arch/x86/include/uapi/asm/ucontext.h and
include/uapi/asm-generic/ucontext.h (struct ucontext, UC_*),
arch/x86/include/asm/sigframe.h (struct rt_sigframe), arch/x86/kernel/signal.c
(get_sigframe/setup_rt_frame: frame placement, FIX_EFLAGS),
arch/x86/include/uapi/asm/processor-flags.h (X86_EFLAGS_*), and glibc's
<sys/user.h> (struct user_regs_struct / user_fpregs_struct, the
PTRACE_GETREGS/GETFPREGS formats).

Frame as Linux builds it on the user stack (addresses grow upward):

    frame + 0    pretcode (u64) = sa_restorer; the handler's return address
    frame + 8    struct ucontext uc  (304 bytes)
    frame + 312  siginfo_t info      (128 bytes)
    frame + 440  end of struct rt_sigframe
    ...          (alignment gap)
    fpstate      512-byte fxsave area, 64-byte aligned (uc_mcontext.fpstate)

This package uses a plain fxsave area: UC_FP_XSTATE is *not* set in uc_flags
and sw_reserved is zero.  Data only; the kernel proper decides what to put in.
"""
from ._layout import Layout
from .signal import SIGINFO_SIZE, STACK_T

# ------------------------------------------------------------- user_regs_struct

# PTRACE_GETREGS layout: 27 u64 in this order (216 bytes).
USER_REGS_NAMES = (
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
    "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
    "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
)
USER_REGS = Layout("user_regs_struct", [(n, "Q") for n in USER_REGS_NAMES])
USER_REGS_SIZE = USER_REGS.size  # 216


def pack_user_regs(regs):
    """Pack a dict of register values (missing ones are 0) as user_regs_struct."""
    return USER_REGS.pack(**{n: regs.get(n, 0) for n in USER_REGS_NAMES})


def unpack_user_regs(buf, offset=0):
    """Unpack a user_regs_struct into a dict keyed by USER_REGS_NAMES."""
    return dict(zip(USER_REGS_NAMES, USER_REGS.struct.unpack_from(buf, offset)))


# ------------------------------------------------------------- fxsave area

# struct _fpstate_64 == glibc struct user_fpregs_struct == FXSAVE image (512).
# (glibc spells twd "ftw", mxcsr_mask "mxcr_mask", and folds the last 96
# bytes into padding[24].)
FXSAVE = Layout("fpstate_64", [
    ("cwd", "H"), ("swd", "H"), ("twd", "H"), ("fop", "H"),
    ("rip", "Q"), ("rdp", "Q"), ("mxcsr", "I"), ("mxcsr_mask", "I"),
    ("st_space", "128s"),    # 8 x87/MMX registers, 16 bytes each
    ("xmm_space", "256s"),   # 16 XMM registers, 16 bytes each
    ("reserved2", "48s"),
    ("sw_reserved", "48s"),  # struct _fpx_sw_bytes when UC_FP_XSTATE is set
])
FXSAVE_SIZE = FXSAVE.size  # 512
USER_FPREGS_SIZE = 512     # sizeof(struct user_fpregs_struct), PTRACE_GETFPREGS
FPSTATE_ALIGN = 64         # Linux rounds the math frame down to 64 bytes

# Power-on / FNINIT + default MXCSR values.
FPU_DEFAULT_CWD = 0x037F
FPU_DEFAULT_MXCSR = 0x1F80
FPU_DEFAULT_MXCSR_MASK = 0xFFFF  # typical; real CPUs report their own mask

# struct _fpx_sw_bytes magic (only meaningful with UC_FP_XSTATE).
FP_XSTATE_MAGIC1 = 0x46505853
FP_XSTATE_MAGIC2 = 0x46505845
FP_XSTATE_MAGIC2_SIZE = 4


def pack_fxsave_default():
    """A 512-byte fxsave image of a freshly initialised FPU/SSE state."""
    return FXSAVE.pack(cwd=FPU_DEFAULT_CWD, mxcsr=FPU_DEFAULT_MXCSR,
                       mxcsr_mask=FPU_DEFAULT_MXCSR_MASK)


# ------------------------------------------------------------- sigcontext

SIGCONTEXT_REGS = (
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    "rdi", "rsi", "rbp", "rbx", "rdx", "rax", "rcx", "rsp", "rip", "eflags",
)
SIGCONTEXT = Layout("sigcontext", [(n, "Q") for n in SIGCONTEXT_REGS] + [
    ("cs", "H"), ("gs", "H"), ("fs", "H"), ("ss", "H"),
    ("err", "Q"), ("trapno", "Q"), ("oldmask", "Q"), ("cr2", "Q"),
    ("fpstate", "Q"),        # pointer to the fxsave area, 0 if none
    ("reserved1", "64x"),    # __u64 reserved1[8]
])
SIGCONTEXT_SIZE = SIGCONTEXT.size  # 256
SIGCONTEXT_OFFSETS = SIGCONTEXT.offsets

# Fields of sigcontext that restore_sigcontext() loads back into pt_regs
# (fs/gs are written as 0 and ignored on return on x86-64).
SIGRETURN_REGS = SIGCONTEXT_REGS + ("cs", "ss")
SIGCONTEXT_EXTRA = ("err", "trapno", "oldmask", "cr2", "fpstate")


def pack_sigcontext(regs, err=0, trapno=0, oldmask=0, cr2=0, fpstate=0):
    """Pack struct sigcontext from a user_regs_struct-style dict (fs/gs written as 0)."""
    vals = {n: regs.get(n, 0) for n in SIGRETURN_REGS}
    return SIGCONTEXT.pack(err=err, trapno=trapno, oldmask=oldmask, cr2=cr2,
                           fpstate=fpstate, **vals)


def unpack_sigcontext(buf, offset=0):
    """Unpack struct sigcontext into a dict: SIGRETURN_REGS + SIGCONTEXT_EXTRA (no fs/gs)."""
    sc = SIGCONTEXT.unpack(buf, offset)._asdict()
    return {n: sc[n] for n in SIGRETURN_REGS + SIGCONTEXT_EXTRA}


# ------------------------------------------------------------- ucontext

UC_FP_XSTATE = 0x1
UC_SIGCONTEXT_SS = 0x2
UC_STRICT_RESTORE_SS = 0x4
UC_FLAGS_DEFAULT = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS  # what x86-64 sets w/o xsave

UCONTEXT = Layout("ucontext", [
    ("uc_flags", "Q"), ("uc_link", "Q"),
    ("uc_stack", f"{STACK_T.size}s"),
    ("uc_mcontext", f"{SIGCONTEXT_SIZE}s"),
    ("uc_sigmask", "Q"),
])
UCONTEXT_SIZE = UCONTEXT.size  # 304
UC_FLAGS_OFFSET = UCONTEXT.offsets["uc_flags"]        # 0
UC_LINK_OFFSET = UCONTEXT.offsets["uc_link"]          # 8
UC_STACK_OFFSET = UCONTEXT.offsets["uc_stack"]        # 16
UC_MCONTEXT_OFFSET = UCONTEXT.offsets["uc_mcontext"]  # 40
UC_SIGMASK_OFFSET = UCONTEXT.offsets["uc_sigmask"]    # 296

# ------------------------------------------------------------- rt_sigframe

RT_SIGFRAME = Layout("rt_sigframe", [
    ("pretcode", "Q"),
    ("uc", f"{UCONTEXT_SIZE}s"),
    ("info", f"{SIGINFO_SIZE}s"),
])
RT_SIGFRAME_SIZE = RT_SIGFRAME.size                    # 440
FRAME_PRETCODE = RT_SIGFRAME.offsets["pretcode"]       # 0
FRAME_UC = RT_SIGFRAME.offsets["uc"]                   # 8
FRAME_INFO = RT_SIGFRAME.offsets["info"]               # 312
FRAME_UC_FLAGS = FRAME_UC + UC_FLAGS_OFFSET            # 8
FRAME_UC_STACK = FRAME_UC + UC_STACK_OFFSET            # 24
FRAME_SIGCONTEXT = FRAME_UC + UC_MCONTEXT_OFFSET       # 48
FRAME_SIGMASK = FRAME_UC + UC_SIGMASK_OFFSET           # 304
FRAME_FPSTATE_PTR = FRAME_SIGCONTEXT + SIGCONTEXT_OFFSETS["fpstate"]  # 232
# Offset within the frame of each sigcontext field (e.g. FRAME_REG_OFFSETS["rip"]).
FRAME_REG_OFFSETS = {n: FRAME_SIGCONTEXT + o for n, o in SIGCONTEXT_OFFSETS.items()
                     if not n.startswith("_") and n != "reserved1"}

REDZONE = 128          # bytes skipped below the interrupted rsp (not on altstack)
FRAME_ALIGN = 16       # frame = round_down(sp - size, 16) - 8
# On rt_sigreturn, rsp points just past pretcode: frame = rsp - RETURN_SP_ADJUST.
RETURN_SP_ADJUST = 8

# Selectors a 64-bit user task runs with (__USER_CS, __USER_DS).
USER_CS = 0x33
USER_DS = 0x2B

X86_EFLAGS_CF = 0x00000001
X86_EFLAGS_FIXED = 0x00000002
X86_EFLAGS_PF = 0x00000004
X86_EFLAGS_AF = 0x00000010
X86_EFLAGS_ZF = 0x00000040
X86_EFLAGS_SF = 0x00000080
X86_EFLAGS_TF = 0x00000100
X86_EFLAGS_IF = 0x00000200
X86_EFLAGS_DF = 0x00000400
X86_EFLAGS_OF = 0x00000800
X86_EFLAGS_IOPL = 0x00003000
X86_EFLAGS_NT = 0x00004000
X86_EFLAGS_RF = 0x00010000
X86_EFLAGS_VM = 0x00020000
X86_EFLAGS_AC = 0x00040000
X86_EFLAGS_VIF = 0x00080000
X86_EFLAGS_VIP = 0x00100000
X86_EFLAGS_ID = 0x00200000
# Flags rt_sigreturn may restore from the frame (arch/x86/kernel/signal.c).
FIX_EFLAGS = (X86_EFLAGS_AC | X86_EFLAGS_OF | X86_EFLAGS_DF | X86_EFLAGS_TF |
              X86_EFLAGS_SF | X86_EFLAGS_ZF | X86_EFLAGS_AF | X86_EFLAGS_PF |
              X86_EFLAGS_CF | X86_EFLAGS_RF)
# Flags cleared on handler entry (setup_rt_frame / signal_setup_done).
HANDLER_CLEAR_EFLAGS = X86_EFLAGS_DF | X86_EFLAGS_RF | X86_EFLAGS_TF


def sigframe_addresses(sp, fpstate_size=FXSAVE_SIZE):
    """Place a frame below sp the way get_sigframe() does -> (frame, fpstate).

    sp is the already-chosen top: interrupted rsp - REDZONE, or the top of the
    alternate signal stack.
    """
    fpstate = (sp - fpstate_size) & ~(FPSTATE_ALIGN - 1)
    frame = ((fpstate - RT_SIGFRAME_SIZE) & ~(FRAME_ALIGN - 1)) - 8
    return frame, fpstate


def pack_ucontext(regs, sigmask, stack=(0, 0, 0), fpstate=0, uc_flags=UC_FLAGS_DEFAULT,
                  err=0, trapno=0, cr2=0, uc_link=0):
    """Pack struct ucontext; oldmask and uc_sigmask are both sigmask.

    stack is the task's (sas_ss_sp, sas_ss_flags, sas_ss_size) exactly as
    stored -- (0, 0, 0) if sigaltstack() was never called, as Linux writes it.
    """
    sp, flags, size = stack
    return UCONTEXT.pack(
        uc_flags=uc_flags, uc_link=uc_link,
        uc_stack=STACK_T.pack(ss_sp=sp, ss_flags=flags, ss_size=size),
        uc_mcontext=pack_sigcontext(regs, err, trapno, sigmask, cr2, fpstate),
        uc_sigmask=sigmask)


def pack_rt_sigframe(pretcode, regs, sigmask, siginfo=b"", **uc_kw):
    """Pack a whole struct rt_sigframe (440 bytes); uc_kw go to pack_ucontext."""
    return RT_SIGFRAME.pack(pretcode=pretcode, info=siginfo,
                            uc=pack_ucontext(regs, sigmask, **uc_kw))


def unpack_rt_sigframe(buf, offset=0):
    """Decode an rt_sigframe for rt_sigreturn -> dict.

    Keys: pretcode, uc_flags, uc_link, stack (ss_sp, ss_flags, ss_size
    namedtuple), sigmask, regs (unpack_sigcontext dict), info (128 bytes).
    """
    fr = RT_SIGFRAME.unpack(buf, offset)
    uc = UCONTEXT.unpack(fr.uc)
    return {"pretcode": fr.pretcode, "uc_flags": uc.uc_flags, "uc_link": uc.uc_link,
            "stack": STACK_T.unpack(uc.uc_stack), "sigmask": uc.uc_sigmask,
            "regs": unpack_sigcontext(uc.uc_mcontext), "info": fr.info}
