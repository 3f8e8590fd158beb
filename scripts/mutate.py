#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mutation testing of libcchain's C code.

Generates mutants of the library's concurrency code, applies one at a time
to a private copy of the tree (build-mutate/ by default: the checkout is
never modified), rebuilds incrementally, and runs a fast subset of the
tests against each.  Every mutant ends as one of:

  killed       a test failed (or crashed)
  timeout      a test ran past --timeout (counted as killed)
  survived     every test passed
  stillborn    the mutant does not compile (not counted)
  equivalent   listed in tests/mutation/equivalent.tsv: no test can tell
  weak-memory  listed there as needs-weak-memory: x86 cannot show it
  sanitizer    listed there as needs-sanitizer: its only effect is
               undefined behaviour that the C library tolerates (a read out
               of bounds, an unlock of a mutex not held), which only a
               sanitizer reports; no test of a plain build can tell

A survivor may also be listed there as "survivor", with why no test kills
it yet: it runs and counts as any other mutant, and the report shows the
argument beside its diff instead of failing on an unlisted survivor.

Score per file = (killed + timeout) / (killed + timeout + survived).

Operators (each mutant changes one place):
  stmt-del    delete an expression statement, return;, break;, continue;
              or goto (return with a value is kept: deleting it is
              undefined behaviour, not a mutant)
  lock-del    delete a lock or unlock call (the statement, or the call
              replaced by 0 where its value is used)
  wake-del    likewise for a wake-up (futex wake, condvar signal or
              broadcast, eventfd write, the library's *wake* functions)
  fence-del   delete an atomic_thread_fence/atomic_signal_fence
  cond-neg    negate the condition of an if, while or do-while
  cmp-swap    < <=, > >=, == != (each way)
  logic-swap  && ||
  const       0 -> 1, 1 -> 0, n -> n + 1 (suffixes kept); true <-> false
  mo-relax    an explicit memory order (seq_cst, acq_rel, acquire, release)
              -> relaxed; cc_load_acquire/cc_store_release -> their
              relaxed forms; an implicit sequentially consistent atomic
              (atomic_load(p) ...) -> its _explicit form with relaxed

Not generated: comments, preprocessor lines, declarations (their
initialisers get only mo-relax, lock-del and wake-del), `(void)x;`, and the
statements that are no-ops in the builds tested (CC_PROBE: USDT probes are
disabled here; cc_happens_before/after, cc_atomic_var: DRD annotations,
empty without -Dvalgrind_annotations; calls of a function of the file whose
body holds only such no-ops), along with the conditions of an if
whose only statement is such a no-op; CC_DIE and abort calls are not
deleted (they run only when a system call that cannot fail fails).

Mutant id: FILE:FUNCTION:OPERATOR:HASH:N, HASH the first 8 hex digits of
the SHA-1 of the mutated line(s) with white space squeezed, N the mutant's
rank among those with the same prefix.  It survives edits elsewhere in
the file.
"""
import argparse
import collections
import concurrent.futures
import datetime
import difflib
import fcntl
import hashlib
import json
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ['src/compl_chain.c', 'src/notify.c', 'src/shared_chain.c',
         'src/wait-futex.c', 'src/wait-condvar.c', 'src/window.c']
LIST = 'tests/mutation/equivalent.tsv'
CATEGORIES = ('equivalent', 'needs-weak-memory', 'needs-sanitizer', 'survivor')
# Listed mutants that run and count as any other: argued survivors.
COUNTED = ('survivor',)

# ---- tokens -----------------------------------------------------------------

TOKEN_RE = re.compile(r'''
  (?P<ws>[ \t\r\f\v]+|\n)
| (?P<comment>/\*.*?\*/|//[^\n]*)
| (?P<string>"(?:\\.|[^"\\\n])*")
| (?P<char>'(?:\\.|[^'\\\n])*')
| (?P<number>(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)[uUlLfF]*)
| (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
| (?P<punct>\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=
            |[{}()\[\];,.?:~!+\-*/%&|^<>=])
''', re.S | re.X)

Token = collections.namedtuple('Token', 'kind text start end line')


def tokenize(src):
    """C tokens of @src, without comments and preprocessor lines."""
    toks = []
    pos, line, bol = 0, 1, True
    while pos < len(src):
        if bol:
            m = re.match(r'[ \t]*#', src[pos:pos + 256])
            if m:
                # A directive: up to an unescaped newline.
                end = pos
                while True:
                    nl = src.find('\n', end)
                    if nl < 0:
                        end = len(src)
                        break
                    if src[nl - 1] == '\\':
                        line += 1
                        end = nl + 1
                        continue
                    end = nl
                    break
                pos = end
                continue
        m = TOKEN_RE.match(src, pos)
        if not m:
            raise SyntaxError('cannot tokenize line %d: %r' % (line, src[pos:pos + 20]))
        kind = m.lastgroup
        text = m.group()
        if kind == 'ws':
            if text == '\n':
                line += 1
                bol = True
        else:
            bol = False
            if kind != 'comment':
                toks.append(Token(kind, text, pos, m.end(), line))
            line += text.count('\n')
        pos = m.end()
    return toks


# ---- statements -------------------------------------------------------------

TYPE_WORDS = {
    'int', 'unsigned', 'signed', 'long', 'short', 'char', 'bool', 'void', 'float',
    'double', 'const', 'static', 'volatile', 'struct', 'union', 'enum', 'register',
    '_Atomic', 'typedef', 'extern', 'inline', '_Thread_local', '__thread',
}
NOOP_CALLS = {'CC_PROBE', 'cc_happens_before', 'cc_happens_after', 'cc_atomic_var'}
DIE_CALLS = {'CC_DIE', 'abort', 'cchain__die'}
KEYWORDS = {'if', 'else', 'for', 'while', 'do', 'switch', 'case', 'default', 'return',
            'break', 'continue', 'goto', 'sizeof', 'typeof', '__typeof__', 'alignof',
            '_Alignof'}
LOCK_RE = re.compile(r'(?:^|_)(?:un)?lock$')
WAKE_RE = re.compile(r'(?:^|_)wake(?:_all|_finish|_turn|_loop|_up)?$|^wake_'
                     r'|^pthread_cond_(?:signal|broadcast)$')
CMP_SWAP = {'<': '<=', '<=': '<', '>': '>=', '>=': '>', '==': '!=', '!=': '=='}
LOGIC_SWAP = {'&&': '||', '||': '&&'}
ORDERS = {'memory_order_seq_cst', 'memory_order_acq_rel', 'memory_order_acquire',
          'memory_order_release'}
WRAPPERS = {'cc_load_acquire': 'cc_load_relaxed', 'cc_store_release': 'cc_store_relaxed'}
# Implicit seq_cst atomics and how many memory orders their _explicit form takes.
IMPLICIT = {'atomic_load': 1, 'atomic_store': 1, 'atomic_exchange': 1,
            'atomic_fetch_add': 1, 'atomic_fetch_sub': 1, 'atomic_fetch_or': 1,
            'atomic_fetch_and': 1, 'atomic_fetch_xor': 1,
            'atomic_compare_exchange_strong': 2, 'atomic_compare_exchange_weak': 2,
            'atomic_flag_test_and_set': 1, 'atomic_flag_clear': 1}
FENCES = {'atomic_thread_fence', 'atomic_signal_fence'}


class Parser:
    """Finds, in each function body, statements and conditions to mutate."""

    def __init__(self, toks, noop_calls=NOOP_CALLS):
        self.t = toks
        self.noop_calls = noop_calls
        self.funcs = []      # every function defined
        self.stmts = []      # (func, first, last, kind): kind expr/jump/decl/return
        self.conds = []      # (func, open, close, keyword, noop_body)
        self.exprs = []      # (func, first, last): token ranges for token operators
        self.func = None

    def match(self, i):
        """Index of the bracket closing the one at @i."""
        pairs = {'(': ')', '[': ']', '{': '}'}
        open_, close = self.t[i].text, pairs[self.t[i].text]
        depth = 0
        for j in range(i, len(self.t)):
            if self.t[j].text == open_:
                depth += 1
            elif self.t[j].text == close:
                depth -= 1
                if depth == 0:
                    return j
        raise SyntaxError('unbalanced %s at line %d' % (open_, self.t[i].line))

    def parse(self):
        i, n = 0, len(self.t)
        while i < n:
            tok = self.t[i]
            if tok.text == '{':
                if i > 0 and self.t[i - 1].text == ')':
                    # A function definition: NAME ( ... ) {
                    j = i - 1
                    depth = 0
                    while True:
                        if self.t[j].text == ')':
                            depth += 1
                        elif self.t[j].text == '(':
                            depth -= 1
                            if depth == 0:
                                break
                        j -= 1
                    self.func = self.t[j - 1].text
                    self.funcs.append(self.func)
                    i = self.block(i)
                    self.func = None
                    continue
                i = self.match(i) + 1
                continue
            i += 1
        return self

    def block(self, i):
        end = self.match(i)
        i += 1
        while i < end:
            i = self.stmt(i)
        return end + 1

    def semicolon(self, i):
        depth = 0
        while True:
            x = self.t[i].text
            if x in '([{':
                depth += 1
            elif x in ')]}':
                depth -= 1
            elif x == ';' and depth == 0:
                return i
            i += 1

    def is_decl(self, i):
        a = self.t[i]
        b = self.t[i + 1]
        if a.text in TYPE_WORDS:
            return True
        if a.kind != 'ident' or a.text in KEYWORDS:
            return False
        if a.text.endswith('_t') and b.kind == 'ident':
            return True
        if b.kind == 'ident':
            return True  # TYPE name
        if b.text == '*':
            # TYPE *name = / ; / , / [  (a multiplication is never a statement)
            j = i + 1
            while self.t[j].text == '*':
                j += 1
            return self.t[j].kind == 'ident' and self.t[j + 1].text in ('=', ';', ',', '[')
        return False

    def noop_stmt(self, first, last):
        """A statement that does nothing in the builds tested, or dies."""
        a = self.t[first]
        if a.text == '(' and self.t[first + 1].text == 'void' and self.t[first + 2].text == ')':
            return True
        return a.text in self.noop_calls or a.text in DIE_CALLS

    def stmt(self, i):
        tok = self.t[i]
        x = tok.text
        if x == '{':
            return self.block(i)
        if x == ';':
            return i + 1
        if x in ('if', 'while', 'switch'):
            close = self.match(i + 1)
            body = close + 1
            k = self.stmt(body)
            noop = (self.t[body].text != '{' and self.noop_stmt(body, k - 1)
                    and self.t[body].text in self.noop_calls)
            if x != 'switch':
                self.conds.append((self.func, i + 1, close, x, noop))
            if not noop:
                self.exprs.append((self.func, i + 2, close - 1))
            if x == 'if' and k < len(self.t) and self.t[k].text == 'else':
                k = self.stmt(k + 1)
            return k
        if x == 'for':
            close = self.match(i + 1)
            # for (init; cond; step): its parts get the token operators.
            self.exprs.append((self.func, i + 2, close - 1))
            return self.stmt(close + 1)
        if x == 'do':
            k = self.stmt(i + 1)
            assert self.t[k].text == 'while', 'do without while at line %d' % tok.line
            close = self.match(k + 1)
            self.conds.append((self.func, k + 1, close, 'do-while', False))
            self.exprs.append((self.func, k + 2, close - 1))
            return close + 2
        if x in ('case', 'default'):
            j = i
            while self.t[j].text != ':':
                j += 1
            return j + 1
        if tok.kind == 'ident' and self.t[i + 1].text == ':' and x not in KEYWORDS:
            return i + 2  # a label
        last = self.semicolon(i)
        if x in ('break', 'continue', 'goto') or (x == 'return' and last == i + 1):
            self.stmts.append((self.func, i, last, 'jump'))
        elif x == 'return':
            self.stmts.append((self.func, i, last, 'return'))
            self.exprs.append((self.func, i + 1, last - 1))
        elif self.is_decl(i):
            self.stmts.append((self.func, i, last, 'decl'))
        elif self.noop_stmt(i, last):
            pass
        else:
            self.stmts.append((self.func, i, last, 'expr'))
            self.exprs.append((self.func, i, last - 1))
        return last + 1


# ---- mutants ----------------------------------------------------------------

Mutant = collections.namedtuple('Mutant', 'id file func op line start end repl')


def line_text(src, start, end):
    """The whole lines spanning [start, end), white space squeezed."""
    a = src.rfind('\n', 0, start) + 1
    b = src.find('\n', end)
    if b < 0:
        b = len(src)
    return ' '.join(src[a:b].split())


def call_name(toks, first):
    """The function a statement calls at its top level, if it is a call."""
    if toks[first].kind == 'ident' and toks[first + 1].text == '(':
        return toks[first].text
    return None


def call_kind(toks, i, close):
    """lock-del or wake-del for the call of toks[i] (arguments up to @close)."""
    name = toks[i].text
    if LOCK_RE.search(name):
        return 'lock-del'
    if WAKE_RE.search(name):
        return 'wake-del'
    if name == 'futex_noasync' and any(t.text == 'FUTEX_WAKE' for t in toks[i:close]):
        return 'wake-del'
    return None


def generate(path, src):
    """Every mutant of the file @path (relative to the tree) whose text is @src."""
    toks = tokenize(src)
    p = Parser(toks).parse()
    # A function whose body is only no-ops (an annotation wrapper) is one.
    busy = {x[0] for x in p.stmts + p.conds + p.exprs}
    idle = {f for f in p.funcs if f not in busy}
    if idle:
        p = Parser(toks, NOOP_CALLS | idle).parse()
    raw = []  # (func, op, start, end, repl)

    def add(func, op, start, end, repl):
        raw.append((func, op, start, end, repl))

    def paren_close(i):
        return p.match(i)

    in_decl = set()
    expr_starts = {first for _, first, _, kind in p.stmts if kind == 'expr'}
    for func, first, last, kind in p.stmts:
        s, e = toks[first].start, toks[last].end
        if kind == 'jump':
            add(func, 'stmt-del', s, e, ';')
        elif kind == 'expr':
            name = call_name(toks, first)
            op = 'stmt-del'
            if name in FENCES:
                op = 'fence-del'
            elif name:
                op = call_kind(toks, first, paren_close(first + 1)) or op
            add(func, op, s, e, ';')
        elif kind == 'decl':
            in_decl.update(range(first, last))
    for func, open_, close, kw, noop in p.conds:
        if noop:
            continue
        s, e = toks[open_ + 1].start, toks[close - 1].end
        add(func, 'cond-neg', s, e, '!(' + src[s:e] + ')')

    ranges = [(func, a, b) for func, a, b in p.exprs]
    ranges += [(func, a, b) for func, a, b, kind in p.stmts if kind == 'decl']
    seen = set()
    for func, a, b in ranges:
        for i in range(a, b + 1):
            if i in seen:
                continue
            seen.add(i)
            t = toks[i]
            decl = i in in_decl
            nxt = toks[i + 1].text if i + 1 < len(toks) else ''
            prev = toks[i - 1].text if i > 0 else ''
            if t.text in ORDERS:
                add(func, 'mo-relax', t.start, t.end, 'memory_order_relaxed')
            elif t.text in WRAPPERS and nxt == '(':
                add(func, 'mo-relax', t.start, t.end, WRAPPERS[t.text])
            elif t.text in IMPLICIT and nxt == '(' and prev not in ('.', '->'):
                close = paren_close(i + 1)
                orders = ', memory_order_relaxed' * IMPLICIT[t.text]
                repl = t.text + '_explicit' + src[toks[i + 1].start:toks[close].start] + \
                    orders + ')'
                add(func, 'mo-relax', t.start, toks[close].end, repl)
            elif t.kind == 'ident' and nxt == '(' and prev not in ('.', '->'):
                close = paren_close(i + 1)
                op = call_kind(toks, i, close)
                # A call that is a whole statement was deleted as one above.
                whole = i in expr_starts
                if op and not whole:
                    add(func, op, t.start, toks[close].end, '0')
            if decl:
                continue
            if t.text in CMP_SWAP:
                add(func, 'cmp-swap', t.start, t.end, CMP_SWAP[t.text])
            elif t.text in LOGIC_SWAP:
                add(func, 'logic-swap', t.start, t.end, LOGIC_SWAP[t.text])
            elif t.kind == 'number' and prev != '[':
                m = re.match(r'(0[xX][0-9a-fA-F]+|[0-9]+)([uUlL]*)$', t.text)
                if m:
                    v = int(m.group(1), 0)
                    nv = {0: 1, 1: 0}.get(v, v + 1)
                    digits = hex(nv) if m.group(1).lower().startswith('0x') else str(nv)
                    add(func, 'const', t.start, t.end, digits + m.group(2))
            elif t.text in ('true', 'false'):
                add(func, 'const', t.start, t.end, 'false' if t.text == 'true' else 'true')

    raw.sort(key=lambda r: (r[2], r[3], r[1]))
    out, count = [], collections.Counter()
    base = os.path.basename(path)
    for func, op, start, end, repl in raw:
        h = hashlib.sha1(line_text(src, start, end).encode()).hexdigest()[:8]
        prefix = '%s:%s:%s:%s' % (base, func, op, h)
        mid = '%s:%d' % (prefix, count[prefix])
        count[prefix] += 1
        line = src.count('\n', 0, start) + 1
        out.append(Mutant(mid, path, func, op, line, start, end, repl))
    return out


def apply(src, m):
    return src[:m.start] + m.repl + src[m.end:]


def diff(src, m):
    return ''.join(difflib.unified_diff(
        src.splitlines(True), apply(src, m).splitlines(True),
        'a/' + m.file, 'b/' + m.file, n=1))


def load_list(path):
    """The argued mutants: {id: (category, argument)}."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line.strip() or line.startswith('#'):
                continue
            cols = line.split('\t')
            if len(cols) != 3 or cols[1] not in CATEGORIES or not cols[2].strip():
                raise SystemExit('%s:%d: want "id<TAB>%s<TAB>argument"' %
                                 (path, n, '|'.join(CATEGORIES)))
            if cols[0] in out:
                raise SystemExit('%s:%d: %s listed twice' % (path, n, cols[0]))
            out[cols[0]] = (cols[1], cols[2])
    return out


# ---- running ----------------------------------------------------------------

# (program, arguments, CCHAIN_TEST_SCALE): a program of the build, or a
# python or shell script of the tree; @build/PATH is a path in the build directory,
# @corpus the fuzzer's seed corpus, @env:NAME=VALUE sets NAME in the test's
# environment.  Fastest first, as a mutant is
# killed by the first failure.  The scales keep a survivor's run to a few
# seconds; test_notify's three races run 150 rounds each at 3%.
PRIVATE_TESTS = [
    ('tests/check-syscalls.sh', ['@build/tests/uncontended'], 10),
    ('tests/test_compl_chain', [], 10),
    ('tests/test_defer', [], 10),
    ('tests/test_stats', [], 10),
    ('tests/test_debug', ['@env:CCHAIN_DEBUG=1'], 10),
    ('tests/test_signals', [], 10),
    ('tests/test_async', [], 10),
    ('tests/test_fork', [], 10),
    ('tests/fuzz_replay', ['@corpus'], 10),
    ('tests/test_threads', [], 10),
    ('tests/stress', ['--threads', '8', '--iterations', '5000', '--stall-timeout', '5'], 10),
    ('tests/stress', ['--threads', '8', '--iterations', '5000', '--stall-timeout', '5',
                      '--monitor'], 10),
    ('tests/test_notify', [], 3),
    ('tests/test_window', [], 10),
    ('tests/test_spin_env.py', ['@build/tests/spin_env'], 100),
]
TESTS = {
    'src/compl_chain.c': PRIVATE_TESTS,
    'src/wait-futex.c': PRIVATE_TESTS,
    'src/wait-condvar.c': PRIVATE_TESTS,
    'src/notify.c': [('tests/test_compl_chain', [], 10), ('tests/test_notify', [], 10),
                     ('tests/test_window', [], 10)],
    'src/window.c': [('tests/test_window', [], 10), ('tests/test_compl_chain', [], 10),
                     ('tests/test_defer', [], 10),
                     ('tests/test_debug', ['@env:CCHAIN_DEBUG=1'], 10)],
    'src/shared_chain.c': [('tests/check-syscalls.sh', ['@build/tests/uncontended_shared'], 10),
                           ('tests/test_shared', [], 10),
                           ('tests/kill_storm', ['--seconds', '2', '--stall-timeout', '5'], 10)],
}


# Files compiled into both backends' builds (see run_all).
ALSO_CONDVAR = {'src/compl_chain.c', 'src/window.c'}


def backend_of(path):
    return 'condvar' if path == 'src/wait-condvar.c' else 'futex'


def tree_files():
    out = subprocess.run(['git', '-C', ROOT, 'ls-files', '-co', '--exclude-standard', '-z'],
                         check=True, capture_output=True).stdout.decode()
    return [f for f in out.split('\0') if f and os.path.isfile(os.path.join(ROOT, f))]


class Copy:
    """A private copy of the tree with its own build directory."""

    def __init__(self, workdir, backend, slot, ninja_jobs):
        # One run at a time in a copy: a busy slot is skipped for the next.
        while True:
            self.dir = os.path.join(workdir, '%s-%d' % (backend, slot))
            os.makedirs(self.dir, exist_ok=True)
            self.lock = open(os.path.join(self.dir, 'lock'), 'w')
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                self.lock.close()
                slot += 1
        self.tree = os.path.join(self.dir, 'tree')
        self.build = os.path.join(self.dir, 'build')
        self.backend = backend
        self.ninja_jobs = ninja_jobs
        self.ready = False

    def sync(self, files):
        for f in files:
            src = os.path.join(ROOT, f)
            dst = os.path.join(self.tree, f)
            with open(src, 'rb') as a:
                data = a.read()
            try:
                with open(dst, 'rb') as b:
                    if b.read() == data:
                        continue
            except FileNotFoundError:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, 'wb') as b:
                b.write(data)
            shutil.copymode(src, dst)

    def setup(self, files, log):
        self.sync(files)
        if not os.path.exists(os.path.join(self.build, 'build.ninja')):
            cmd = ['meson', 'setup', self.build, self.tree, '-Dwait_backend=' + self.backend,
                   '-Dtests=enabled', '-Dexamples=false', '-Dmodel_check=disabled',
                   '-Dman=disabled', '-Dbench=disabled', '-Dpgz=disabled', '-Dfuzz=disabled',
                   '-Dusdt=disabled', '-Dbuildtype=debugoptimized']
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                log(r.stdout + r.stderr)
                raise SystemExit('meson setup failed in ' + self.build)
        with open(os.path.join(self.tree, 'meson.build')) as f:
            self.version = re.search(r"version: '([^']+)'", f.read()).group(1)
        self.ready = True
        self.clean_code = {}

    def write(self, path, text):
        with open(os.path.join(self.tree, path), 'w') as f:
            f.write(text)

    def code(self, path):
        """The machine code compiled from @path (a wait backend is part of
        compl_chain.c's object), as objdump disassembles it."""
        base = 'compl_chain.c' if path.startswith('src/wait-') else os.path.basename(path)
        obj = os.path.join(self.build, 'libcchain.so.%s.p' % self.version, 'src_' + base + '.o')
        r = subprocess.run(['objdump', '-d', '--no-show-raw-insn', obj],
                           capture_output=True, text=True)
        return r.stdout.split('\n', 2)[-1] if r.returncode == 0 else None

    def make(self, targets, timeout):
        cmd = ['ninja', '-C', self.build, '-j', str(self.ninja_jobs)] + targets
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, 'build timed out'
        return r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    def run_tests(self, tests, timeout):
        """None if all pass, else (verdict, what)."""
        corpus = os.path.join(self.tree, 'tests', 'fuzz', 'corpus')
        for exe, args, scale in tests:
            env = dict(os.environ, CCHAIN_TEST_SCALE=str(scale))
            if exe.endswith('.py'):
                argv = [sys.executable, os.path.join(self.tree, exe)]
            elif exe.endswith('.sh'):
                argv = ['sh', os.path.join(self.tree, exe)]
            else:
                argv = [os.path.join(self.build, exe)]
            for a in args:
                if a == '@corpus':
                    argv += sorted(os.path.join(corpus, c) for c in os.listdir(corpus))
                elif a.startswith('@build/'):
                    argv.append(os.path.join(self.build, a[len('@build/'):]))
                elif a.startswith('@env:'):
                    name, _, value = a[len('@env:'):].partition('=')
                    env[name] = value
                else:
                    argv.append(a)
            what = ' '.join([exe] + [a for a in args if a != '@corpus' and
                                     not a.startswith('@env:')])
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL, env=env, cwd=self.build,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return 'timeout', what
            # A test's children (test_shared forks) go with it.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if rc != 0:
                return 'killed', '%s: %s' % (what, 'signal %d' % -rc if rc < 0 else 'exit %d' % rc)
        return None


def targets_of(tests):
    out = {t[0] for t in tests if not t[0].endswith(('.py', '.sh'))}
    out |= {a[len('@build/'):] for t in tests for a in t[1] if a.startswith('@build/')}
    return sorted(out)


def run_all(mutants, sources, args, log, results):
    """Run @mutants; add {id: (verdict, detail, seconds)} to @results."""
    files = tree_files()
    digests = {f: hashlib.sha1(t.encode()).hexdigest() for f, t in sources.items()}
    done = len(results)
    lock = threading.Lock()
    work = queue.Queue()
    # Grouped by file, so that a copy rebuilds one file per mutant.
    for m in sorted(mutants, key=lambda m: (backend_of(m.file), m.file, m.start)):
        work.put(m)
    total = len(mutants) + done
    ninja_jobs = max(1, (os.cpu_count() or 1) // args.jobs)

    def worker(slot):
        copies = {}
        while True:
            try:
                m = work.get_nowait()
            except queue.Empty:
                break
            def copy_for(b):
                if b not in copies:
                    copies[b] = Copy(args.workdir, b, slot, ninja_jobs)
                    copies[b].setup(files, log)
                return copies[b]

            b = backend_of(m.file)
            c = copy_for(b)
            tests = TESTS[m.file]
            t0 = time.monotonic()
            c.write(m.file, apply(sources[m.file], m))
            ok, out = c.make(targets_of(tests), args.build_timeout)
            if not ok:
                verdict, detail = 'stillborn', out.strip().splitlines()[-1:] or ['']
                detail = detail[0][:200]
            else:
                r = c.run_tests(tests, args.timeout)
                verdict, detail = r if r else ('survived', '')
                if not r:
                    mutated = c.code(m.file)
            c.write(m.file, sources[m.file])
            if verdict == 'survived' and m.file in ALSO_CONDVAR:
                # Code shared by both backends: a survivor of the futex
                # build faces the condvar build's tests too.
                cv = copy_for('condvar')
                cv.write(m.file, apply(sources[m.file], m))
                ok, out = cv.make(targets_of(tests), args.build_timeout)
                if ok:
                    r = cv.run_tests(tests, args.timeout)
                    if r:
                        verdict, detail = r[0], 'condvar build: ' + r[1]
                cv.write(m.file, sources[m.file])
            if verdict == 'survived':
                # The same machine code as the unmutated source: a hint
                # that the mutant is equivalent (or, for mo-relax, needs
                # weak memory) on this compiler and CPU.
                if m.file not in c.clean_code:
                    c.make(targets_of(tests), args.build_timeout)
                    c.clean_code[m.file] = c.code(m.file)
                if mutated is not None and mutated == c.clean_code[m.file]:
                    detail = 'same machine code as the original'

            dt = time.monotonic() - t0
            with lock:
                results[m.id] = (verdict, detail, dt)
                if args.results:
                    with open(args.results, 'a') as f:
                        f.write(json.dumps({'id': m.id, 'file': m.file,
                                            'source': digests[m.file], 'verdict': verdict,
                                            'detail': detail, 'seconds': round(dt, 1)}) + '\n')
                log('[%d/%d] %-10s %5.1fs %s  %s' % (len(results), total, verdict, dt, m.id,
                                                    detail))

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        for f in [ex.submit(worker, j) for j in range(args.jobs)]:
            f.result()
    return results


def baseline(files_sel, args, log):
    """The unmutated tree must pass the tests the mutants will face."""
    files = tree_files()
    ninja_jobs = max(1, (os.cpu_count() or 1) // args.jobs)
    backends = {backend_of(f) for f in files_sel}
    if ALSO_CONDVAR & set(files_sel):
        backends.add('condvar')
    for b in sorted(backends):
        c = Copy(args.workdir, b, 0, ninja_jobs)
        c.setup(files, log)
        tests = []
        for f in files_sel:
            if backend_of(f) == b or (b == 'condvar' and f in ALSO_CONDVAR):
                tests += [t for t in TESTS[f] if t not in tests]
        t0 = time.monotonic()
        ok, out = c.make(targets_of(tests), args.build_timeout * 4)
        if not ok:
            log(out)
            raise SystemExit('the unmutated %s build fails' % b)
        r = c.run_tests(tests, args.timeout)
        if r:
            raise SystemExit('the unmutated %s build fails its tests: %s (%s)' % (b, r[1], r[0]))
        c.lock.close()
        log('baseline %s: build and tests pass (%.1f s)' % (b, time.monotonic() - t0))


def sample(mutants, n, seed):
    """The @n mutants whose ids hash lowest with @seed: a mutant added or
    removed elsewhere changes at most one member of the sample."""
    def key(m):
        return hashlib.sha1(('%d:%s' % (seed, m.id)).encode()).hexdigest()
    return sorted(mutants, key=key)[:n]


def load_results(path, sources):
    """Results of an earlier run (--results) for today's sources."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    digests = {f: hashlib.sha1(t.encode()).hexdigest() for f, t in sources.items()}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if digests.get(r['file']) == r['source']:
                out[r['id']] = (r['verdict'], r['detail'], r['seconds'])
    return out


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def summarize(mutants, listed, results, sources):
    rows = []
    by_file = collections.OrderedDict((f, collections.Counter()) for f in FILES
                                      if any(m.file == f for m in mutants))
    for m in mutants:
        c = by_file[m.file]
        if m.id in listed:
            c[{'equivalent': 'equivalent', 'needs-weak-memory': 'weak-memory',
               'needs-sanitizer': 'sanitizer'}[listed[m.id][0]]] += 1
        elif m.id in results:
            c[results[m.id][0]] += 1
    for f, c in by_file.items():
        counted = c['killed'] + c['timeout'] + c['survived']
        score = 100.0 * (c['killed'] + c['timeout']) / counted if counted else None
        rows.append((f, c, counted, score))
    return rows


def report(rows, mutants, listed, results, sources, header, generated, argued):
    lines = [header, '',
             '| file | generated | reported | killed | timeout | survived | stillborn '
             '| equivalent | needs weak memory | needs sanitizer | score |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for f, c, counted, score in rows:
        total = sum(c.values())
        lines.append('| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %s |' % (
            f, generated[f], total, c['killed'], c['timeout'], c['survived'], c['stillborn'],
            c['equivalent'], c['weak-memory'], c['sanitizer'],
            '%.1f%%' % score if score is not None else '-'))
    surv = [m for m in mutants if results.get(m.id, ('',))[0] == 'survived'
            and m.id not in listed]
    lines += ['', 'Survivors: %d (%d of them argued in %s)' % (
        len(surv), sum(1 for m in surv if m.id in argued), LIST)]
    for m in surv:
        lines += ['', '%s (line %d)' % (m.id, m.line), '```diff', diff(sources[m.file], m).rstrip(),
                  '```']
        if m.id in argued:
            lines += ['', 'Why no test kills it yet: ' + argued[m.id]]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n', 1)[1])
    ap.add_argument('--files', nargs='+', default=FILES, metavar='FILE',
                    help='source files to mutate (default: %(default)s)')
    ap.add_argument('--sample', type=int, metavar='N', help='a reproducible sample of N mutants')
    ap.add_argument('--seed', type=int, default=0, help='seed of the sample')
    ap.add_argument('--ids', nargs='+', metavar='ID', help='run these mutants only')
    ap.add_argument('--jobs', type=int, default=1, help='copies of the tree run in parallel')
    ap.add_argument('--timeout', type=float, default=20, help='seconds per test program')
    ap.add_argument('--build-timeout', type=float, default=120, help='seconds per rebuild')
    ap.add_argument('--workdir', default=os.path.join(ROOT, 'build-mutate'),
                    help='where the copies are built (default: %(default)s)')
    ap.add_argument('--list', action='store_true', help='print the mutants and exit')
    ap.add_argument('--check-list', action='store_true',
                    help='check %s against the generated mutants and exit' % LIST)
    ap.add_argument('--run-listed', action='store_true',
                    help='run the listed (equivalent, weak-memory, sanitizer) mutants too, '
                    'to check them')
    ap.add_argument('--no-baseline', action='store_true',
                    help='skip the run of the unmutated tree')
    ap.add_argument('--results', metavar='FILE',
                    help='append each result to FILE (JSON lines) and reuse the results '
                    'it holds for unchanged sources: an interrupted run resumes')
    ap.add_argument('--rerun-survivors', action='store_true',
                    help='run again the survivors that --results holds (after new tests)')
    ap.add_argument('--reuse-only', action='store_true',
                    help='only the mutants that --results holds: report on a partial run')
    ap.add_argument('--record', metavar='FILE', help='write the result (markdown) to FILE')
    ap.add_argument('--min-score', type=float, help='fail if a file scores below this (percent)')
    args = ap.parse_args(argv)
    # The copies' programs run with their build directory as the working one.
    args.workdir = os.path.abspath(args.workdir)

    for f in args.files:
        if f not in TESTS:
            ap.error('%s: not one of %s' % (f, ', '.join(FILES)))
    files_sel = [f for f in FILES if f in args.files]
    sources, mutants = {}, []
    for f in files_sel:
        with open(os.path.join(ROOT, f)) as fh:
            sources[f] = fh.read()
        mutants += generate(f, sources[f])
    listed = load_list(os.path.join(ROOT, LIST))
    argued = {k: a for k, (c, a) in listed.items() if c in COUNTED}
    listed_all, listed = listed, {k: v for k, v in listed.items() if v[0] not in COUNTED}

    if args.check_list:
        every = {m.id for f in FILES
                 for m in generate(f, open(os.path.join(ROOT, f)).read())}
        stale = sorted(set(listed_all) - every)
        for s in stale:
            print('%s: %s is listed but no longer generated' % (LIST, s))
        print('%d mutants, %d listed (%d equivalent, %d needs-weak-memory, '
              '%d needs-sanitizer, %d argued survivors)' % (
                  len(every), len(listed_all),
                  sum(1 for c, _ in listed.values() if c == 'equivalent'),
                  sum(1 for c, _ in listed.values() if c == 'needs-weak-memory'),
                  sum(1 for c, _ in listed.values() if c == 'needs-sanitizer'),
                  len(argued)))
        return 1 if stale else 0

    if args.list:
        for m in mutants:
            tag = ' [%s]' % listed_all[m.id][0] if m.id in listed_all else ''
            print('%s  line %d: %r -> %r%s' % (m.id, m.line, sources[m.file][m.start:m.end],
                                              m.repl, tag))
        return 0

    chosen = mutants
    if args.ids:
        want = set(args.ids)
        chosen = [m for m in mutants if m.id in want]
        missing = want - {m.id for m in chosen}
        if missing:
            ap.error('no such mutant: ' + ', '.join(sorted(missing)))
    to_run = [m for m in chosen if args.run_listed or args.ids or m.id not in listed]
    if args.sample is not None:
        to_run = sample(to_run, args.sample, args.seed)
        chosen = to_run

    def log(msg):
        print(msg, flush=True)

    os.makedirs(args.workdir, exist_ok=True)
    earlier = load_results(args.results, sources)
    if args.reuse_only:
        to_run = [m for m in to_run if m.id in earlier]
        chosen = [m for m in chosen if m in to_run or m.id in listed]
    if args.rerun_survivors:
        earlier = {k: v for k, v in earlier.items() if v[0] != 'survived'}
    t0 = time.monotonic()
    log('%d mutants generated, %d listed, %d to run, %d job(s)' % (
        len(mutants), sum(1 for m in mutants if m.id in listed), len(to_run), args.jobs))
    if not args.no_baseline and any(m.id not in earlier for m in to_run):
        baseline(sorted({m.file for m in to_run}) or files_sel, args, log)
    results = {m.id: r for m in to_run for r in [earlier.get(m.id)] if r}
    if results:
        log('%d result(s) reused from %s' % (len(results), args.results))
    run_all([m for m in to_run if m.id not in results], sources, args, log, results)
    wall = time.monotonic() - t0

    rows = summarize(chosen, {} if args.run_listed else listed, results, sources)
    ran = [r for r in results.values() if r[0] != 'stillborn']
    per = sum(r[2] for r in ran) / len(ran) if ran else 0
    head = ('Mutation testing (scripts/mutate.py%s): %s, %s, %d CPU(s); %d mutants run in '
            '%.0f s wall with %d job(s), %.1f s per compiled mutant on average.' % (
                ' ' + ' '.join(argv if argv is not None else sys.argv[1:]),
                datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                cpu_model(), os.cpu_count() or 0, len(results), wall, args.jobs, per))
    generated = collections.Counter(m.file for m in mutants)
    text = report(rows, chosen, {} if args.run_listed else listed, results, sources, head,
                  generated, argued)
    print()
    print(text, end='')
    if args.run_listed:
        for m in chosen:
            if m.id in listed and results.get(m.id, ('',))[0] in ('killed', 'timeout'):
                print('listed as %s but killed: %s (%s)' % (listed[m.id][0], m.id,
                                                            results[m.id][1]))
    if args.record:
        with open(args.record, 'w') as f:
            f.write('# Mutation testing: last full result\n\n'
                    'Written by `scripts/mutate.py --record`; doc/tests.md ("Mutation '
                    'testing") says how to run it.\n\n' + text)
    status = 0
    for m in chosen:
        if m.id in argued and results.get(m.id, ('',))[0] in ('killed', 'timeout'):
            print('listed as survivor but killed: %s (%s): drop it from %s' % (
                m.id, results[m.id][1], LIST))
    survivors = [m for m in chosen if results.get(m.id, ('',))[0] == 'survived'
                 and m.id not in listed and m.id not in argued]
    if survivors:
        print('FAIL: %d unlisted survivor(s)' % len(survivors))
        status = 1
    if args.min_score is not None:
        for f, c, counted, score in rows:
            if score is not None and score < args.min_score:
                print('FAIL: %s scores %.1f%% < %.1f%%' % (f, score, args.min_score))
                status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
