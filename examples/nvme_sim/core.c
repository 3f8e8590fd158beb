// SPDX-License-Identifier: MIT
/*
 * The host side of the namespace scan, function by function after
 * drivers/nvme/host/core.c with the "register namespaces in order during
 * async scan" patch applied, running on libcchain's compl_chain and async
 * layers.  Kernel objects are reduced to what naming needs; the costs of
 * the rest (allocations, sysfs, locks) are model time, see sim.h.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define NVME_IDENTIFY_DATA_SIZE 4096
#define NR_LIST_ENTRIES (NVME_IDENTIFY_DATA_SIZE / sizeof(uint32_t))

struct nvme_ns_head {
	unsigned int instance;
	uint32_t nsid;
};

struct nvme_ns {
	struct nvme_ctrl *ctrl;
	struct nvme_ns_head *head;
};

struct nvme_ns_info {
	uint32_t nsid;
};

/**
 * struct async_scan_task - keeps track of controller & NSID to scan
 * @chain_entry: link to the completion chain list
 * @ctrl: controller on which namespaces are being scanned
 * @nsid: the NSID to scan
 * @thread: the task as a simulated thread
 * @seq: its place in the chain (submission order)
 * @inline_run: run by the scan itself, as async_schedule_domain() does
 *	when too much work is pending
 */
struct async_scan_task {
	struct compl_chain_entry chain_entry;
	struct nvme_ctrl *ctrl;
	uint32_t nsid;
	struct sim_thread thread;
	size_t seq;
	bool inline_run;
};

/* ---- the chain under the virtual-time scheduler ---------------------------- */

/*
 * The caller sleeps for something other than a command, or ends: it gives
 * up its CPU and its place on the admin queue.
 */
static void nvme_sleep(struct nvme_ctrl *ctrl)
{
	sim_cpu_yield(&ctrl->cpus);
	sim_target_leave(ctrl->target);
}

/*
 * compl_chain_wait().  The model keeps its own count of completed entries
 * so that the scheduler, not the host, decides when a waiter runs again:
 * a waiter whose turn has not come gives up the scheduler's turn and
 * blocks in the real compl_chain_wait(); the entry before it wakes it in
 * the model before completing in reality (the contract in sim.h).
 */
static void scan_chain_wait(struct nvme_ctrl *ctrl, struct async_scan_task *task)
{
	uint64_t t0 = sim_now();

	if (ctrl->chain_done == task->seq) {
		compl_chain_wait(&task->chain_entry); /* the turn is there: no sleep */
	} else {
		nvme_sleep(ctrl);
		ctrl->chain_waiter[task->seq] = sim_self();
		sim_block_begin();
		compl_chain_wait(&task->chain_entry);
		sim_block_end();
		/* Slept and woken: two context switches on a CPU. */
		sim_cpu_run(&ctrl->cpus, ctrl->p->wake_ns);
	}
	trace_event("chain", t0, sim_now(), "compl_chain_wait");
}

/* compl_chain_complete(), waking the next entry's waiter in the model first. */
static void scan_chain_complete(struct nvme_ctrl *ctrl, struct async_scan_task *task)
{
	struct sim_thread *next;

	if (ctrl->chain_done != task->seq)
		scan_chain_wait(ctrl, task);
	ctrl->chain_done = task->seq + 1;
	if (ctrl->chain_done < ctrl->chain_cap &&
	    (next = ctrl->chain_waiter[ctrl->chain_done])) {
		ctrl->chain_waiter[ctrl->chain_done] = NULL;
		sim_wake(next);
	}
	compl_chain_complete(&task->chain_entry);
}

/* ---- namespace table and instance numbers ---------------------------------- */

/*
 * The controller's namespaces live in a table indexed by the position of
 * their NSID among every NSID the run can see (ctrl->universe, sorted), so
 * that lookups are O(log n) and ranges are walked in NSID order: the
 * kernel's sorted list, without its O(n) inserts.
 */
static size_t ns_slot(const struct nvme_ctrl *ctrl, uint32_t nsid)
{
	size_t lo = 0, hi = ctrl->nr_universe;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ctrl->universe[mid] < nsid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct nvme_ns *nvme_find_get_ns(struct nvme_ctrl *ctrl, uint32_t nsid)
{
	size_t i = ns_slot(ctrl, nsid);

	if (i == ctrl->nr_universe || ctrl->universe[i] != nsid)
		return NULL;
	return ctrl->ns_table[i];
}

static void nvme_ns_add_to_ctrl_list(struct nvme_ns *ns)
{
	struct nvme_ctrl *ctrl = ns->ctrl;

	ctrl->ns_table[ns_slot(ctrl, ns->head->nsid)] = ns;
}

/* A min-heap of freed instance numbers. */
static void ida_free(struct nvme_ctrl *ctrl, unsigned int v)
{
	size_t i;

	for (i = ctrl->nr_free++; i && v < ctrl->free_ids[(i - 1) / 2]; i = (i - 1) / 2)
		ctrl->free_ids[i] = ctrl->free_ids[(i - 1) / 2];
	ctrl->free_ids[i] = v;
}

/* ida_alloc_min(&subsys->ns_ida, 1): the lowest free instance.  Subsys lock held. */
static unsigned int ns_ida_alloc(struct nvme_ctrl *ctrl)
{
	unsigned int top, last;
	size_t i = 0, c, n;

	if (!ctrl->nr_free)
		return ++ctrl->ida_next;
	top = ctrl->free_ids[0];
	last = ctrl->free_ids[--ctrl->nr_free];
	n = ctrl->nr_free;
	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && ctrl->free_ids[c + 1] < ctrl->free_ids[c])
			c++;
		if (ctrl->free_ids[c] >= last)
			break;
		ctrl->free_ids[i] = ctrl->free_ids[c];
		i = c;
	}
	if (n)
		ctrl->free_ids[i] = last;
	return top;
}

/* A kernel mutex: a caller that finds it held sleeps on it. */
static void nvme_lock(struct nvme_ctrl *ctrl, struct sim_mutex *m)
{
	if (m->owner)
		nvme_sleep(ctrl);
	sim_mutex_lock(m);
}

/* An admin command: the host's CPU for it, then the round trip (asleep). */
static bool nvme_identify(struct nvme_ctrl *ctrl, enum nvme_cns cns, uint32_t nsid)
{
	sim_cpu_run(&ctrl->cpus, ctrl->p->cmd_cpu_ns + ctrl->p->net_cpu_ns);
	sim_cpu_yield(&ctrl->cpus);
	return sim_identify(ctrl->target, cns, nsid);
}

/* ---- allocation, validation, removal ------------------------------------------ */

static int nvme_init_ns_head(struct nvme_ns *ns, struct nvme_ns_info *info)
{
	struct nvme_ctrl *ctrl = ns->ctrl;
	struct nvme_ns_head *head = sim_xcalloc(1, sizeof(*head));
	uint64_t t0;

	nvme_lock(ctrl, &ctrl->subsys_lock);
	t0 = sim_now();
	/* nvme_find_ns_head, nvme_subsys_check_duplicate_ids: both walk the heads. */
	sim_cpu_run(&ctrl->cpus, ctrl->p->head_ns + ctrl->p->head_walk_ns * ctrl->nr_heads);
	ctrl->nr_heads++;
	head->nsid = info->nsid;
	/* The alternative naming: the node is named after the NSID. */
	head->instance = ctrl->mode == MODE_NSID ? info->nsid : ns_ida_alloc(ctrl);
	ns->head = head;
	if (ctrl->nr_alloc < ctrl->alloc_cap)
		ctrl->alloc_order[ctrl->nr_alloc++] = info->nsid;
	trace_event("register", t0, sim_now(), "nvme_init_ns_head nsid %u -> nvme%dn%u",
		    info->nsid, ctrl->instance, head->instance);
	sim_mutex_unlock(&ctrl->subsys_lock);
	return 0;
}

static void nvme_update_ns_info(struct nvme_ctrl *ctrl, struct nvme_ns_info *info)
{
	static const enum nvme_cns after[] = { NVME_ID_CNS_NS, NVME_ID_CNS_CS_NS };
	unsigned int i;

	for (i = 0; i < ctrl->p->cmds_after; i++)
		nvme_identify(ctrl, after[i % 2], info->nsid);
}

struct partition_scan_work {
	struct nvme_ctrl *ctrl;
	unsigned int instance;
	struct sim_thread thread;
};

/* nvme_partition_scan_work(): bdev_disk_changed() reads the partition table. */
static void *nvme_partition_scan_work(void *data)
{
	struct partition_scan_work *w = data;
	struct nvme_ctrl *ctrl = w->ctrl;
	uint64_t t0, cpu = ctrl->p->part_scan_ns + ctrl->p->net_cpu_ns;

	sim_task_start(&w->thread);
	t0 = sim_now();
	sim_cpu_run(&ctrl->cpus, cpu / 2);
	sim_cpu_yield(&ctrl->cpus);
	sim_io_read(ctrl->target);
	sim_cpu_run(&ctrl->cpus, cpu - cpu / 2);
	sim_cpu_yield(&ctrl->cpus);
	trace_event("partitions", t0, sim_now(), "partition scan nvme%dn%u", ctrl->instance,
		    w->instance);
	sim_task_end(); /* the last access to model state */
	free(w);
	return NULL;
}

/* queue_work(nvme_wq, &head->partition_scan_work): a thread of its own. */
static void nvme_queue_partition_scan(struct nvme_ns *ns)
{
	struct partition_scan_work *w = sim_xcalloc(1, sizeof(*w));
	pthread_t tid;

	w->ctrl = ns->ctrl;
	w->instance = ns->head->instance;
	sim_work_queue(&w->thread);
	if (pthread_create(&tid, NULL, nvme_partition_scan_work, w) || pthread_detach(tid)) {
		fputs("nvme_sim: cannot start a thread for a partition scan\n", stderr);
		exit(1);
	}
}

static void device_add_disk(struct nvme_ns *ns)
{
	struct nvme_ctrl *ctrl = ns->ctrl;
	uint64_t t0;

	nvme_lock(ctrl, &ctrl->disk_lock);
	t0 = sim_now();
	sim_cpu_run(&ctrl->cpus, ctrl->p->disk_ns);
	trace_event("register", t0, sim_now(), "device_add_disk nvme%dn%u",
		    ctrl->instance, ns->head->instance);
	sim_mutex_unlock(&ctrl->disk_lock);
	if (ctrl->p->part_scan_ns)
		nvme_queue_partition_scan(ns);
}

static void nvme_alloc_ns(struct nvme_ctrl *ctrl, struct nvme_ns_info *info,
			  struct async_scan_task *cc_entry)
{
	struct nvme_ns *ns = sim_xcalloc(1, sizeof(*ns));
	uint64_t t0 = sim_now();
	int r;

	ns->ctrl = ctrl;
	/* kzalloc_node, blk_mq_alloc_disk, queue limits: parallel CPU work. */
	sim_cpu_run(&ctrl->cpus, ctrl->p->alloc_ns);
	trace_event("cpu", t0, sim_now(), "nvme_alloc_ns nsid %u", info->nsid);

	/*
	 * Wait for the previous async task to finish before
	 * allocating the namespace.
	 */
	if (cc_entry)
		scan_chain_wait(ctrl, cc_entry);

	r = nvme_init_ns_head(ns, info);

	if (cc_entry)
		scan_chain_complete(ctrl, cc_entry);

	if (r) {
		free(ns);
		return;
	}
	nvme_update_ns_info(ctrl, info);
	device_add_disk(ns);
	nvme_ns_add_to_ctrl_list(ns);
}

static void nvme_ns_remove(struct nvme_ns *ns)
{
	struct nvme_ctrl *ctrl = ns->ctrl;
	uint64_t t0;

	nvme_lock(ctrl, &ctrl->disk_lock);
	t0 = sim_now();
	sim_cpu_run(&ctrl->cpus, ctrl->p->remove_ns);
	ctrl->nr_heads--;
	trace_event("remove", t0, sim_now(), "nvme_ns_remove nsid %u (nvme%dn%u)",
		    ns->head->nsid, ctrl->instance, ns->head->instance);
	sim_mutex_unlock(&ctrl->disk_lock);

	ctrl->ns_table[ns_slot(ctrl, ns->head->nsid)] = NULL;
	if (ctrl->mode != MODE_NSID)
		ida_free(ctrl, ns->head->instance);
	free(ns->head);
	free(ns);
}

static void nvme_ns_remove_by_nsid(struct nvme_ctrl *ctrl, uint32_t nsid)
{
	struct nvme_ns *ns = nvme_find_get_ns(ctrl, nsid);

	if (ns)
		nvme_ns_remove(ns);
}

static void nvme_validate_ns(struct nvme_ns *ns, struct nvme_ns_info *info)
{
	uint64_t t0;

	nvme_update_ns_info(ns->ctrl, info);
	t0 = sim_now();
	sim_cpu_run(&ns->ctrl->cpus, ns->ctrl->p->validate_ns);
	trace_event("cpu", t0, sim_now(), "nvme_validate_ns nsid %u", info->nsid);
}

/* ---- the scan ----------------------------------------------------------------- */

static void nvme_scan_ns(struct nvme_ctrl *ctrl, uint32_t nsid,
			 struct async_scan_task *cc_entry)
{
	static const enum nvme_cns before[] = { NVME_ID_CNS_CS_INDEP, NVME_ID_CNS_NS_DESC_LIST };
	struct nvme_ns_info info = { .nsid = nsid };
	struct nvme_ns *ns;
	unsigned int i;

	atomic_fetch_add(&ctrl->scanned, 1);
	/* nvme_identify_ns_descs, nvme_ns_info_from_id_cs_indep */
	for (i = 0; i < ctrl->p->cmds_before; i++) {
		if (!nvme_identify(ctrl, before[i % 2], nsid)) {
			/* Invalid namespace: gone, or never there. */
			nvme_ns_remove_by_nsid(ctrl, nsid);
			return;
		}
	}

	ns = nvme_find_get_ns(ctrl, nsid);
	if (ns) {
		/* Release the chain early so the next task can proceed */
		if (cc_entry)
			scan_chain_complete(ctrl, cc_entry);
		nvme_validate_ns(ns, &info);
	} else {
		nvme_alloc_ns(ctrl, &info, cc_entry);
	}
}

static void nvme_scan_ns_async(void *data, async_cookie_t cookie)
{
	struct async_scan_task *task = data;
	struct nvme_ctrl *ctrl = task->ctrl;

	(void)cookie;
	if (!task->inline_run && !current_is_async()) {
		/*
		 * The library ran the call in its caller because it could not
		 * start a worker: the model counted on a worker, and waiting
		 * for the task's turn here would never end.
		 */
		fputs("nvme_sim: the async layer could not start a worker thread "
		      "(the model needs one per task in flight, up to 512)\n", stderr);
		exit(1);
	}
	if (!task->inline_run)
		sim_task_start(&task->thread);
	nvme_scan_ns(ctrl, task->nsid, ctrl->mode == MODE_CHAIN ? task : NULL);

	/*
	 * If the task failed early and returned without completing the
	 * chain entry, ensure the chain progresses safely.
	 */
	if (compl_chain_pending(&task->chain_entry))
		scan_chain_complete(ctrl, task);

	if (!task->inline_run) {
		nvme_sleep(ctrl);
		sim_task_end(); /* the last access to model state */
	}
	free(task);
}

/* Remove the namespaces with NSIDs in (@lo, @hi): gone from the list. */
static void nvme_remove_ns_range(struct nvme_ctrl *ctrl, uint32_t lo, uint64_t hi)
{
	size_t i;

	for (i = ns_slot(ctrl, lo + 1); i < ctrl->nr_universe && ctrl->universe[i] < hi; i++)
		if (ctrl->ns_table[i])
			nvme_ns_remove(ctrl->ns_table[i]);
}

static void nvme_remove_invalid_namespaces(struct nvme_ctrl *ctrl, uint32_t nsid)
{
	nvme_remove_ns_range(ctrl, nsid, UINT64_MAX);
}

/*
 * The kernel's async_schedule_domain() runs a call in its caller when
 * 32768 are pending.  The model does so a pool's worth earlier: a worker
 * may still be between the end of its task in the model and the library's
 * bookkeeping, and the library must never fall back on its own (the model
 * would not know).
 */
#define SCAN_MAX_PENDING (32768u - 1024u)

static void nvme_scan_ns_list(struct nvme_ctrl *ctrl)
{
	uint32_t *ns_list = sim_xcalloc(1, NVME_IDENTIFY_DATA_SIZE);
	uint32_t prev = 0;
	size_t i, nr_entries, seq = 0;
	ASYNC_DOMAIN(domain);
	struct async_scan_task *task;

	for (;;) {
		nvme_identify(ctrl, NVME_ID_CNS_NS_ACTIVE_LIST, prev);
		nr_entries = sim_target_list(ctrl->target, prev, ns_list, NR_LIST_ENTRIES);
		for (i = 0; i < NR_LIST_ENTRIES; i++) {
			uint32_t nsid = i < nr_entries ? ns_list[i] : 0;

			if (!nsid) /* end of the list? */
				goto out;

			task = sim_xcalloc(1, sizeof(*task));
			task->nsid = nsid;
			task->ctrl = ctrl;
			task->seq = seq++;
			if (ctrl->mode == MODE_CHAIN)
				compl_chain_add(&ctrl->scan_chain, &task->chain_entry);
			else /* no chain; a zeroed entry is never pending */
				memset(&task->chain_entry, 0, sizeof(task->chain_entry));

			if (sim_tasks_outstanding() >= SCAN_MAX_PENDING) {
				task->inline_run = true;
				nvme_scan_ns_async(task, 0);
			} else {
				sim_task_submit(&task->thread);
				async_schedule_domain(nvme_scan_ns_async, task, &domain);
			}
			/* while (++prev < nsid) nvme_ns_remove_by_nsid(ctrl, prev); */
			nvme_remove_ns_range(ctrl, prev, nsid);
			prev = nsid;
		}
	}
out:
	nvme_sleep(ctrl);
	if (sim_tasks_wait_begin()) {
		async_synchronize_full_domain(&domain);
		sim_block_end();
	} else {
		async_synchronize_full_domain(&domain);
	}
	nvme_remove_invalid_namespaces(ctrl, prev);
	free(ns_list);
}

static void nvme_scan_ns_sequential(struct nvme_ctrl *ctrl)
{
	uint32_t nn, i;

	nvme_identify(ctrl, NVME_ID_CNS_CTRL, 0);
	nn = sim_target_nn(ctrl->target);
	for (i = 1; i <= nn; i++)
		nvme_scan_ns(ctrl, i, NULL);

	nvme_remove_invalid_namespaces(ctrl, nn);
}

void nvme_scan_work(struct nvme_ctrl *ctrl)
{
	unsigned int i;

	ctrl->nr_alloc = 0;
	ctrl->chain_done = 0;
	memset(ctrl->chain_waiter, 0, ctrl->chain_cap * sizeof(*ctrl->chain_waiter));
	atomic_store(&ctrl->scanned, 0);
	/* nvme_init_non_mdts_limits: the controller's limits, read again. */
	for (i = 0; i < ctrl->p->cmds_scan; i++)
		nvme_identify(ctrl, NVME_ID_CNS_CS_CTRL, 0);
	if (ctrl->mode == MODE_SYNC)
		nvme_scan_ns_sequential(ctrl);
	else
		nvme_scan_ns_list(ctrl);
	/* Everything added to the chain has left it. */
	compl_chain_flush(&ctrl->scan_chain);
	nvme_sleep(ctrl); /* the scan is over: its CPU and place are free */
}

/* ---- controller lifetime and reporting ------------------------------------------ */

void nvme_ctrl_init(struct nvme_ctrl *ctrl, struct sim_target *target,
		    const struct sim_params *p, enum scan_mode mode,
		    const uint32_t *universe, size_t nr_universe)
{
	memset(ctrl, 0, sizeof(*ctrl));
	ctrl->instance = 0;
	ctrl->mode = mode;
	ctrl->target = target;
	ctrl->p = p;
	compl_chain_init(&ctrl->scan_chain);
	sim_mutex_init(&ctrl->subsys_lock, p->contention_ns);
	sim_mutex_init(&ctrl->disk_lock, p->contention_ns);
	sim_cpus_init(&ctrl->cpus, p->cpus);
	ctrl->universe = universe;
	ctrl->nr_universe = nr_universe;
	ctrl->ns_table = sim_xcalloc(nr_universe, sizeof(*ctrl->ns_table));
	ctrl->free_ids = sim_xcalloc(nr_universe, sizeof(*ctrl->free_ids));
	ctrl->alloc_cap = nr_universe;
	ctrl->alloc_order = sim_xcalloc(nr_universe, sizeof(*ctrl->alloc_order));
	ctrl->chain_cap = nr_universe;
	ctrl->chain_waiter = sim_xcalloc(nr_universe, sizeof(*ctrl->chain_waiter));
}

void nvme_ctrl_destroy(struct nvme_ctrl *ctrl)
{
	size_t i;

	for (i = 0; i < ctrl->nr_universe; i++) {
		if (ctrl->ns_table[i]) {
			free(ctrl->ns_table[i]->head);
			free(ctrl->ns_table[i]);
		}
	}
	compl_chain_destroy(&ctrl->scan_chain);
	sim_mutex_destroy(&ctrl->subsys_lock);
	sim_mutex_destroy(&ctrl->disk_lock);
	free(ctrl->ns_table);
	free(ctrl->free_ids);
	free(ctrl->alloc_order);
	free(ctrl->chain_waiter);
}

static int by_instance(const void *a, const void *b)
{
	const struct nvme_device *x = a, *y = b;

	return (x->instance > y->instance) - (x->instance < y->instance);
}

size_t nvme_ctrl_devices(struct nvme_ctrl *ctrl, struct nvme_device *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < ctrl->nr_universe && n < max; i++) {
		if (ctrl->ns_table[i]) {
			out[n].instance = ctrl->ns_table[i]->head->instance;
			out[n].nsid = ctrl->ns_table[i]->head->nsid;
			n++;
		}
	}
	qsort(out, n, sizeof(*out), by_instance);
	return n;
}
