// SPDX-License-Identifier: MIT
/*
 * How a run's naming compares with NSID order: the order of this scan's
 * head allocations, and the numbering of the whole device list.
 */
#include <stdlib.h>
#include <string.h>

#include "nvme_sim.h"

/* Merge sort of @v[0..n) through @tmp, counting pairs out of order. */
static unsigned long sort_count(uint32_t *v, uint32_t *tmp, size_t n)
{
	size_t mid = n / 2, i = 0, j = mid, k = 0;
	unsigned long inv;

	if (n < 2)
		return 0;
	inv = sort_count(v, tmp, mid) + sort_count(v + mid, tmp, n - mid);
	while (i < mid && j < n) {
		if (v[j] < v[i]) {
			inv += mid - i;
			tmp[k++] = v[j++];
		} else {
			tmp[k++] = v[i++];
		}
	}
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
	return inv;
}

unsigned long count_inversions(const uint32_t *order, size_t n)
{
	uint32_t *v = sim_xcalloc(n, sizeof(*v)), *tmp = sim_xcalloc(n, sizeof(*tmp));
	unsigned long inv;

	memcpy(v, order, n * sizeof(*v));
	inv = sort_count(v, tmp, n);
	free(v);
	free(tmp);
	return inv;
}

/*
 * A run of devices in NSID order: its length, how many of them sit at their
 * rank, the sum of their ranks.
 */
struct best {
	size_t len, at_rank;
	uint64_t ranks;
	size_t last; /* the run's last device, SIZE_MAX for none */
};

/* Longer, then more at their rank, then lower NSIDs. */
static bool better(const struct best *a, const struct best *b)
{
	if (a->len != b->len)
		return a->len > b->len;
	if (a->at_rank != b->at_rank)
		return a->at_rank > b->at_rank;
	return a->ranks < b->ranks;
}

/* (NSID, place in the list), by NSID: NSIDs are unique. */
struct placed {
	uint32_t nsid;
	size_t at;
};

static int cmp_placed(const void *a, const void *b)
{
	uint32_t x = ((const struct placed *)a)->nsid, y = ((const struct placed *)b)->nsid;

	return (x > y) - (x < y);
}

size_t mark_out_of_order(const struct nvme_device *dev, size_t n, bool *out)
{
	struct placed *by_nsid = sim_xcalloc(n, sizeof(*by_nsid));
	size_t *rank = sim_xcalloc(n, sizeof(*rank)), *prev = sim_xcalloc(n, sizeof(*prev)), i, j;
	/* A Fenwick tree over NSID ranks, 1-based: the best run ending at a rank up to each. */
	struct best *tree = sim_xcalloc(n + 1, sizeof(*tree)), top = { 0, 0, 0, SIZE_MAX };

	for (i = 0; i < n; i++)
		by_nsid[i] = (struct placed){ dev[i].nsid, i };
	qsort(by_nsid, n, sizeof(*by_nsid), cmp_placed);
	for (i = 0; i < n; i++)
		rank[by_nsid[i].at] = i;
	for (i = 0; i <= n; i++)
		tree[i] = (struct best){ 0, 0, 0, SIZE_MAX };
	for (i = 0; i < n; i++) {
		struct best b = { 0, 0, 0, SIZE_MAX };

		for (j = rank[i]; j > 0; j -= j & -j) /* runs ending at a lower NSID */
			if (better(&tree[j], &b))
				b = tree[j];
		prev[i] = b.last;
		b = (struct best){ b.len + 1, b.at_rank + (rank[i] == i), b.ranks + rank[i], i };
		for (j = rank[i] + 1; j <= n; j += j & -j)
			if (better(&b, &tree[j]))
				tree[j] = b;
		if (better(&b, &top))
			top = b;
	}
	for (i = 0; i < n; i++)
		out[i] = true;
	for (j = top.last; j != SIZE_MAX; j = prev[j])
		out[j] = false;
	free(by_nsid);
	free(rank);
	free(prev);
	free(tree);
	return n - top.len;
}
