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
	struct nvme_ns *next;
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
 * @submit_time: model time at which the scan scheduled it
 */
struct async_scan_task {
	struct compl_chain_entry chain_entry;
	struct nvme_ctrl *ctrl;
	uint32_t nsid;
	uint64_t submit_time;
};

/* ---- model-time helpers around the chain ---------------------------------- */

/* compl_chain_wait(), and the model clock of whoever handed us the turn. */
static void scan_chain_wait(struct nvme_ctrl *ctrl, struct compl_chain_entry *e)
{
	uint64_t t0 = sim_now();

	compl_chain_wait(e);
	/* Written by the previous entry's owner before it completed. */
	sim_sync_to(ctrl->chain_time);
	trace_event("chain", t0, sim_now(), "compl_chain_wait");
}

/* compl_chain_complete(), passing our model clock on with the turn. */
static void scan_chain_complete(struct nvme_ctrl *ctrl, struct compl_chain_entry *e)
{
	scan_chain_wait(ctrl, e);
	ctrl->chain_time = sim_now();
	compl_chain_complete(e);
}

/* ---- namespace list and instance numbers ---------------------------------- */

static struct nvme_ns *nvme_find_get_ns(struct nvme_ctrl *ctrl, uint32_t nsid)
{
	struct nvme_ns *ns;

	pthread_mutex_lock(&ctrl->namespaces_lock);
	for (ns = ctrl->namespaces; ns && ns->head->nsid < nsid; ns = ns->next)
		;
	if (ns && ns->head->nsid != nsid)
		ns = NULL;
	pthread_mutex_unlock(&ctrl->namespaces_lock);
	return ns;
}

static void nvme_ns_add_to_ctrl_list(struct nvme_ns *ns)
{
	struct nvme_ctrl *ctrl = ns->ctrl;
	struct nvme_ns **pos;

	pthread_mutex_lock(&ctrl->namespaces_lock);
	for (pos = &ctrl->namespaces; *pos && (*pos)->head->nsid < ns->head->nsid;
	     pos = &(*pos)->next)
		;
	ns->next = *pos;
	*pos = ns;
	pthread_mutex_unlock(&ctrl->namespaces_lock);
}

/* ida_alloc_min(&subsys->ns_ida, 1): the lowest free instance.  Subsys lock held. */
static unsigned int ns_ida_alloc(struct nvme_ctrl *ctrl)
{
	size_t i;

	for (i = 1; i < ctrl->nr_instances && ctrl->instance_used[i]; i++)
		;
	if (i == ctrl->nr_instances) {
		fputs("nvme_sim: out of instance numbers\n", stderr);
		exit(1);
	}
	ctrl->instance_used[i] = true;
	return (unsigned int)i;
}

/* ---- allocation, validation, removal ------------------------------------------ */

static int nvme_init_ns_head(struct nvme_ns *ns, struct nvme_ns_info *info)
{
	struct nvme_ctrl *ctrl = ns->ctrl;
	struct nvme_ns_head *head = sim_xcalloc(1, sizeof(*head));
	uint64_t t0;

	sim_mutex_lock(&ctrl->subsys_lock);
	t0 = sim_now();
	sim_advance(ctrl->p->head_ns);
	head->nsid = info->nsid;
	head->instance = ns_ida_alloc(ctrl);
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
		sim_identify(ctrl->target, after[i % 2], info->nsid);
}

static void device_add_disk(struct nvme_ns *ns)
{
	struct nvme_ctrl *ctrl = ns->ctrl;
	uint64_t t0;

	sim_mutex_lock(&ctrl->disk_lock);
	t0 = sim_now();
	sim_advance(ctrl->p->disk_ns);
	trace_event("register", t0, sim_now(), "device_add_disk nvme%dn%u",
		    ctrl->instance, ns->head->instance);
	sim_mutex_unlock(&ctrl->disk_lock);
}

static void nvme_alloc_ns(struct nvme_ctrl *ctrl, struct nvme_ns_info *info,
			  struct compl_chain_entry *cc_entry)
{
	struct nvme_ns *ns = sim_xcalloc(1, sizeof(*ns));
	uint64_t t0 = sim_now();
	int r;

	ns->ctrl = ctrl;
	ns->next = NULL;
	/* kzalloc_node, blk_mq_alloc_disk, queue limits: parallel CPU work. */
	sim_advance(ctrl->p->alloc_ns);
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
	struct nvme_ns **pos;
	uint64_t t0;

	sim_mutex_lock(&ctrl->disk_lock);
	t0 = sim_now();
	sim_advance(ctrl->p->remove_ns);
	trace_event("remove", t0, sim_now(), "nvme_ns_remove nsid %u (nvme%dn%u)",
		    ns->head->nsid, ctrl->instance, ns->head->instance);
	sim_mutex_unlock(&ctrl->disk_lock);

	pthread_mutex_lock(&ctrl->namespaces_lock);
	for (pos = &ctrl->namespaces; *pos != ns; pos = &(*pos)->next)
		;
	*pos = ns->next;
	pthread_mutex_unlock(&ctrl->namespaces_lock);

	pthread_mutex_lock(&ctrl->subsys_lock.lock);
	ctrl->instance_used[ns->head->instance] = false;
	pthread_mutex_unlock(&ctrl->subsys_lock.lock);
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
	sim_advance(ns->ctrl->p->validate_ns);
	trace_event("cpu", t0, sim_now(), "nvme_validate_ns nsid %u", info->nsid);
}

/* ---- the scan ----------------------------------------------------------------- */

static void nvme_scan_ns(struct nvme_ctrl *ctrl, uint32_t nsid,
			 struct compl_chain_entry *cc_entry)
{
	static const enum nvme_cns before[] = { NVME_ID_CNS_CS_INDEP, NVME_ID_CNS_NS_DESC_LIST };
	struct nvme_ns_info info = { .nsid = nsid };
	struct nvme_ns *ns;
	unsigned int i;

	atomic_fetch_add(&ctrl->scanned, 1);
	/* nvme_identify_ns_descs, nvme_ns_info_from_id_cs_indep */
	for (i = 0; i < ctrl->p->cmds_before; i++) {
		if (!sim_identify(ctrl->target, before[i % 2], nsid)) {
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
	uint64_t end, seen;

	(void)cookie;
	sim_task_start(task->submit_time);
	nvme_scan_ns(ctrl, task->nsid, ctrl->mode == MODE_CHAIN ? &task->chain_entry : NULL);

	/*
	 * If the task failed early and returned without completing the
	 * chain entry, ensure the chain progresses safely.
	 */
	if (compl_chain_pending(&task->chain_entry))
		scan_chain_complete(ctrl, &task->chain_entry);

	end = sim_now();
	seen = atomic_load(&ctrl->scan_end);
	while (end > seen && !atomic_compare_exchange_weak(&ctrl->scan_end, &seen, end))
		;
	free(task);
}

static void nvme_remove_invalid_namespaces(struct nvme_ctrl *ctrl, uint32_t nsid)
{
	struct nvme_ns *ns;

	for (;;) {
		pthread_mutex_lock(&ctrl->namespaces_lock);
		for (ns = ctrl->namespaces; ns && ns->head->nsid <= nsid; ns = ns->next)
			;
		pthread_mutex_unlock(&ctrl->namespaces_lock);
		if (!ns)
			break;
		nvme_ns_remove(ns);
	}
}

static void nvme_scan_ns_list(struct nvme_ctrl *ctrl)
{
	uint32_t *ns_list = sim_xcalloc(1, NVME_IDENTIFY_DATA_SIZE);
	uint32_t prev = 0;
	size_t i, nr_entries;
	ASYNC_DOMAIN(domain);
	struct async_scan_task *task;

	for (;;) {
		sim_identify(ctrl->target, NVME_ID_CNS_NS_ACTIVE_LIST, prev);
		nr_entries = sim_target_list(ctrl->target, prev, ns_list, NR_LIST_ENTRIES);
		for (i = 0; i < NR_LIST_ENTRIES; i++) {
			uint32_t nsid = i < nr_entries ? ns_list[i] : 0;

			if (!nsid) /* end of the list? */
				goto out;

			task = sim_xcalloc(1, sizeof(*task));
			task->nsid = nsid;
			task->ctrl = ctrl;
			task->submit_time = sim_now();
			if (ctrl->mode == MODE_CHAIN)
				compl_chain_add(&ctrl->scan_chain, &task->chain_entry);
			else /* the pre-patch kernel: no chain; a zeroed entry is never pending */
				memset(&task->chain_entry, 0, sizeof(task->chain_entry));

			async_schedule_domain(nvme_scan_ns_async, task, &domain);
			while (++prev < nsid)
				nvme_ns_remove_by_nsid(ctrl, prev);
		}
	}
out:
	async_synchronize_full_domain(&domain);
	sim_sync_to(atomic_load(&ctrl->scan_end));
	nvme_remove_invalid_namespaces(ctrl, prev);
	free(ns_list);
}

static void nvme_scan_ns_sequential(struct nvme_ctrl *ctrl)
{
	uint32_t nn, i;

	sim_identify(ctrl->target, NVME_ID_CNS_CTRL, 0);
	nn = sim_target_nn(ctrl->target);
	for (i = 1; i <= nn; i++)
		nvme_scan_ns(ctrl, i, NULL);

	nvme_remove_invalid_namespaces(ctrl, nn);
}

void nvme_scan_work(struct nvme_ctrl *ctrl)
{
	ctrl->nr_alloc = 0;
	ctrl->chain_time = 0;
	atomic_store(&ctrl->scan_end, 0);
	atomic_store(&ctrl->scanned, 0);
	if (ctrl->mode == MODE_SYNC)
		nvme_scan_ns_sequential(ctrl);
	else
		nvme_scan_ns_list(ctrl);
	/* Everything added to the chain has left it. */
	compl_chain_flush(&ctrl->scan_chain);
}

/* ---- controller lifetime and reporting ------------------------------------------ */

void nvme_ctrl_init(struct nvme_ctrl *ctrl, struct sim_target *target,
		    const struct sim_params *p, enum scan_mode mode, size_t max_ns)
{
	memset(ctrl, 0, sizeof(*ctrl));
	ctrl->instance = 0;
	ctrl->mode = mode;
	ctrl->target = target;
	ctrl->p = p;
	compl_chain_init(&ctrl->scan_chain);
	pthread_mutex_init(&ctrl->namespaces_lock, NULL);
	sim_mutex_init(&ctrl->subsys_lock, p->contention_ns);
	sim_mutex_init(&ctrl->disk_lock, p->contention_ns);
	ctrl->nr_instances = max_ns + 2;
	ctrl->instance_used = calloc(ctrl->nr_instances, sizeof(bool));
	ctrl->alloc_cap = max_ns;
	ctrl->alloc_order = calloc(max_ns ? max_ns : 1, sizeof(uint32_t));
	if (!ctrl->instance_used || !ctrl->alloc_order) {
		fputs("nvme_sim: out of memory\n", stderr);
		exit(1);
	}
}

void nvme_ctrl_destroy(struct nvme_ctrl *ctrl)
{
	struct nvme_ns *ns, *next;

	for (ns = ctrl->namespaces; ns; ns = next) {
		next = ns->next;
		free(ns->head);
		free(ns);
	}
	compl_chain_destroy(&ctrl->scan_chain);
	pthread_mutex_destroy(&ctrl->namespaces_lock);
	sim_mutex_destroy(&ctrl->subsys_lock);
	sim_mutex_destroy(&ctrl->disk_lock);
	free(ctrl->instance_used);
	free(ctrl->alloc_order);
}

static int by_instance(const void *a, const void *b)
{
	const struct nvme_device *x = a, *y = b;

	return (x->instance > y->instance) - (x->instance < y->instance);
}

size_t nvme_ctrl_devices(struct nvme_ctrl *ctrl, struct nvme_device *out, size_t max)
{
	struct nvme_ns *ns;
	size_t n = 0;

	pthread_mutex_lock(&ctrl->namespaces_lock);
	for (ns = ctrl->namespaces; ns && n < max; ns = ns->next) {
		out[n].instance = ns->head->instance;
		out[n].nsid = ns->head->nsid;
		n++;
	}
	pthread_mutex_unlock(&ctrl->namespaces_lock);
	qsort(out, n, sizeof(*out), by_instance);
	return n;
}
