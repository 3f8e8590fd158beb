#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/mutate.py's generator: the mutants of a small C function, what
it leaves alone, and ids that survive an unrelated edit; its report: an
argued survivor counts, and its argument is shown."""
import importlib.util
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, '..', '..', 'scripts', 'mutate.py')
spec = importlib.util.spec_from_file_location('mutate', SCRIPT)
mutate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutate)

SNIPPET = r'''
#include <stdatomic.h>
#define TWO 2 /* a < b in a macro is not mutated */

/* A comment with if (x == 1) in it. */
static int f(struct s *p, atomic_int *a)
{
	int n = 0; // declaration: no cmp or const mutant
	struct s *q = cc_load_acquire(&p->next);

	if (p->x < 1 && q)
		n++;
	while (n != 3)
		pthread_mutex_lock(&p->lock);
	cc_store_release(&p->y, n);
	atomic_store_explicit(a, 1, memory_order_release);
	n = atomic_load(a);
	CC_PROBE(add, p, n == 2);
	if (n > 2)
		CC_PROBE(turn, p);
	(void)q;
	return n >= 0 ? 1 : 0;
}
'''

# In source order; the if whose body is a probe, the probe, (void)q and the
# declarations' comparisons and constants give none.
EXPECTED = [
    ('mo-relax', 'cc_load_acquire', 'cc_load_relaxed'),
    ('cond-neg', 'p->x < 1 && q', '!(p->x < 1 && q)'),
    ('cmp-swap', '<', '<='),
    ('const', '1', '0'),
    ('logic-swap', '&&', '||'),
    ('stmt-del', 'n++;', ';'),
    ('cond-neg', 'n != 3', '!(n != 3)'),
    ('cmp-swap', '!=', '=='),
    ('const', '3', '4'),
    ('lock-del', 'pthread_mutex_lock(&p->lock);', ';'),
    ('mo-relax', 'cc_store_release', 'cc_store_relaxed'),
    ('stmt-del', 'cc_store_release(&p->y, n);', ';'),
    ('stmt-del', 'atomic_store_explicit(a, 1, memory_order_release);', ';'),
    ('const', '1', '0'),
    ('mo-relax', 'memory_order_release', 'memory_order_relaxed'),
    ('stmt-del', 'n = atomic_load(a);', ';'),
    ('mo-relax', 'atomic_load(a)', 'atomic_load_explicit(a, memory_order_relaxed)'),
    ('cmp-swap', '>=', '>'),
    ('const', '0', '1'),
    ('const', '1', '0'),
    ('const', '0', '1'),
]


def triples(src):
    return [(m.op, src[m.start:m.end], m.repl) for m in mutate.generate('src/x.c', src)]


class Generator(unittest.TestCase):
    def test_expected_mutants(self):
        self.assertEqual(triples(SNIPPET), EXPECTED)

    def test_ids_name_file_function_operator(self):
        for m in mutate.generate('src/x.c', SNIPPET):
            parts = m.id.split(':')
            self.assertEqual(parts[:3], ['x.c', 'f', m.op], m.id)
            self.assertRegex(parts[3], '^[0-9a-f]{8}$')
        ids = [m.id for m in mutate.generate('src/x.c', SNIPPET)]
        self.assertEqual(len(ids), len(set(ids)))

    def test_id_stable_across_unrelated_edit(self):
        before = {m.id: (SNIPPET[m.start:m.end], m.repl, m.line)
                  for m in mutate.generate('src/x.c', SNIPPET)}
        edited = SNIPPET.replace('\tint n = 0;', '\tint unrelated = 5;\n\n\tint n = 0;')
        edited = 'static int g(void)\n{\n\treturn 1 < 2;\n}\n' + edited
        after = {m.id: (edited[m.start:m.end], m.repl, m.line)
                 for m in mutate.generate('src/x.c', edited) if m.func == 'f'}
        self.assertEqual(set(before), set(after))
        for mid in before:
            self.assertEqual(before[mid][:2], after[mid][:2], mid)
            self.assertEqual(after[mid][2], before[mid][2] + 6, mid)

    def test_apply_and_diff(self):
        m = [m for m in mutate.generate('src/x.c', SNIPPET) if m.op == 'lock-del'][0]
        self.assertNotIn('pthread_mutex_lock', mutate.apply(SNIPPET, m))
        d = mutate.diff(SNIPPET, m)
        self.assertIn('-\t\tpthread_mutex_lock(&p->lock);', d)
        self.assertIn('+\t\t;', d)

    def test_call_used_as_value(self):
        src = 'void h(int *w)\n{\n\tif (futex(w, FUTEX_WAKE, 1) < 0)\n\t\tdie();\n' \
              '\tif (pthread_mutex_unlock(&l))\n\t\tdie();\n}\n'
        got = set(triples(src))
        self.assertIn(('lock-del', 'pthread_mutex_unlock(&l)', '0'), got)

    def test_idle_function_calls_skipped(self):
        src = 'static void seen(int *p)\n{\n\tcc_happens_after(p);\n}\n\n' \
              'void use(int *p)\n{\n\tseen(p);\n\tif (*p)\n\t\tseen(p);\n\t*p = 1;\n}\n'
        self.assertEqual(triples(src), [('stmt-del', '*p = 1;', ';'), ('const', '1', '0')])

    def test_sample_stable(self):
        ms = mutate.generate('src/x.c', SNIPPET)
        a = mutate.sample(ms, 8, 21)
        self.assertEqual(a, mutate.sample(list(reversed(ms)), 8, 21))
        self.assertNotEqual(a, mutate.sample(ms, 8, 22))
        gone = a[3]
        b = mutate.sample([m for m in ms if m is not gone], 8, 21)
        self.assertEqual(len(set(a) - set(b)), 1)

    def test_sources_parse(self):
        root = os.path.join(HERE, '..', '..')
        for f in mutate.FILES:
            with open(os.path.join(root, f)) as fh:
                ms = mutate.generate(f, fh.read())
            self.assertGreater(len(ms), 20, f)
            self.assertEqual(len({m.id for m in ms}), len(ms), f)


class Report(unittest.TestCase):
    def test_argued_survivor_counts_and_shows_its_argument(self):
        ms = mutate.generate('src/compl_chain.c', SNIPPET)
        a, b, c = ms[0], ms[1], ms[2]
        results = {a.id: ('survived', '', 1.0), b.id: ('killed', 'x', 1.0),
                   c.id: ('survived', '', 1.0)}
        chosen = [a, b, c]
        listed = {}
        argued = {a.id: 'a window no test reaches yet'}
        sources = {'src/compl_chain.c': SNIPPET}
        rows = mutate.summarize(chosen, listed, results, sources)
        (f, counts, counted, score), = rows
        self.assertEqual((counts['survived'], counts['killed'], counted), (2, 1, 3))
        text = mutate.report(rows, chosen, listed, results, sources, 'head',
                             {'src/compl_chain.c': len(ms)}, argued)
        self.assertIn('Survivors: 2 (1 of them argued in', text)
        self.assertIn('Why no test kills it yet: a window no test reaches yet', text)
        self.assertEqual(text.count('Why no test kills it yet'), 1)


if __name__ == '__main__':
    unittest.main(argv=[sys.argv[0], '-v'])
