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

size_t mark_out_of_order(const struct nvme_device *dev, size_t n, bool *out)
{
	/* tail[k]: the device ending the longest run found of length k + 1. */
	size_t *tail = sim_xcalloc(n, sizeof(*tail)), *prev = sim_xcalloc(n, sizeof(*prev));
	size_t len = 0, i, k;

	for (i = 0; i < n; i++) {
		size_t lo = 0, hi = len;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (dev[tail[mid]].nsid < dev[i].nsid)
				lo = mid + 1;
			else
				hi = mid;
		}
		prev[i] = lo ? tail[lo - 1] : SIZE_MAX;
		tail[lo] = i;
		if (lo == len)
			len++;
	}
	for (i = 0; i < n; i++)
		out[i] = true;
	for (k = len ? tail[len - 1] : SIZE_MAX; k != SIZE_MAX; k = prev[k])
		out[k] = false;
	free(tail);
	free(prev);
	return n - len;
}
