/* SPDX-License-Identifier: MIT */
/*
 * Kernel-style asynchronous function calls (kernel/async.c) on a pthread
 * pool.  Names, types and semantics follow <linux/async.h>, so that code
 * written against this header ports to the kernel by deleting the include.
 *
 * async_schedule_domain() queues fn(data, cookie) and returns the cookie, a
 * number that increases with every call, process-wide.  Synchronising on a
 * cookie waits for every call with a lower cookie in the domain, so a
 * caller can order its own work after everything scheduled before it.
 *
 * The functions run on a pool of worker threads, created on demand and
 * reused, that runs at most cchain_async_max_active() functions at once
 * (512 by default, like the kernel's unbound workqueue); more calls wait in
 * FIFO order.  Idle workers exit after a few seconds; cchain_async_shutdown()
 * stops them at once, for a clean exit.
 */
#ifndef CCHAIN_ASYNC_H
#define CCHAIN_ASYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <cchain/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * typedef async_cookie_t - the sequence number of an asynchronous call
 *
 * async_schedule_domain() returns it; numbers increase with every call,
 * process-wide, starting at 1.  Synchronising on a cookie waits for the
 * calls with a lower one.
 */
typedef uint64_t async_cookie_t;

/**
 * typedef async_func_t - a function run asynchronously
 * @data: the argument given to async_schedule_domain()
 * @cookie: the call's cookie
 *
 * Runs on a worker thread, or in the scheduling thread when
 * async_schedule_domain() cannot queue it (see there).
 */
typedef void (*async_func_t)(void *data, async_cookie_t cookie);

/**
 * ASYNC_COOKIE_MAX - larger than any cookie
 *
 * async_synchronize_cookie_domain() with it waits for every call of the
 * domain, as async_synchronize_full_domain() does.
 */
#define ASYNC_COOKIE_MAX UINT64_MAX

/**
 * struct async_entry - one scheduled call (opaque)
 *
 * Allocated by async_schedule_domain() and freed once the call has run;
 * only declared in the header, so that struct async_domain can point to
 * its calls.
 */
struct async_entry;

/**
 * struct async_domain - a set of asynchronous calls to synchronise on
 *
 * Declare with ASYNC_DOMAIN() (registered: async_synchronize_full() waits
 * for it too) or ASYNC_DOMAIN_EXCLUSIVE() (only synchronised explicitly).
 * A domain holds no resources: it may live on the stack, as long as it is
 * synchronised before it goes out of scope.  All members are private.
 */
struct async_domain {
	struct async_entry *first;
	struct async_entry *last;
	unsigned int registered;
};

/**
 * ASYNC_DOMAIN(), ASYNC_DOMAIN_EXCLUSIVE() - define an async domain
 * @name: name of the struct async_domain variable
 *
 * ASYNC_DOMAIN() defines a registered domain: async_synchronize_full()
 * waits for its calls too.  ASYNC_DOMAIN_EXCLUSIVE() defines one that is
 * only synchronised explicitly, with async_synchronize_full_domain() or
 * async_synchronize_cookie_domain().  Both initialise it empty; `static
 * ASYNC_DOMAIN(x);` works, and so does a definition on the stack.
 */
#define ASYNC_DOMAIN(name) struct async_domain name = { NULL, NULL, 1 }
#define ASYNC_DOMAIN_EXCLUSIVE(name) struct async_domain name = { NULL, NULL, 0 }

/**
 * async_schedule_domain() - run a function asynchronously in a domain
 * @func: the function; called as func(@data, cookie)
 * @data: its argument
 * @domain: the domain it belongs to
 *
 * When no memory is left for the bookkeeping, too many calls (32768) are
 * pending, or no worker thread can be created, @func runs synchronously in
 * the caller before this returns, as in the kernel.
 *
 * Context: any thread, including an async function.
 * Return: the call's cookie; 0 (nothing is scheduled or run) if @func or
 * @domain is NULL (reported as misuse).
 * Memory ordering: everything the caller did before the call happens
 * before @func runs.
 */
CCHAIN_API async_cookie_t async_schedule_domain(async_func_t func, void *data,
						struct async_domain *domain);

/**
 * async_schedule() - run a function asynchronously in the default domain
 * @func: the function; called as func(@data, cookie)
 * @data: its argument
 *
 * Schedules @func in the default domain, which is registered: like
 * async_schedule_domain() with that domain.
 *
 * Context: any thread.
 * Return: the call's cookie; 0 (nothing is scheduled or run) if @func is
 * NULL (reported as misuse).
 */
CCHAIN_API async_cookie_t async_schedule(async_func_t func, void *data);

/**
 * async_synchronize_cookie_domain() - wait for the calls before a cookie
 * @cookie: wait for every call with a lower cookie
 * @domain: the domain, or NULL for every registered domain
 *
 * Returns once every call of @domain whose cookie is lower than @cookie
 * has returned; calls scheduled meanwhile get higher cookies and are not
 * waited for.
 *
 * Context: may sleep.  An async function must not wait for itself.
 * Memory ordering: everything the awaited functions did happens before
 * this returns.
 */
CCHAIN_API void async_synchronize_cookie_domain(async_cookie_t cookie,
						struct async_domain *domain);

/**
 * async_synchronize_full_domain() - wait for every call of a domain
 * @domain: the domain, or NULL for every registered domain (as
 *          async_synchronize_full())
 *
 * Returns once every call of @domain scheduled before this call has
 * returned (async_synchronize_cookie_domain() with ASYNC_COOKIE_MAX).
 *
 * Context: may sleep.
 * Memory ordering: everything the awaited functions did happens before
 * this returns.
 */
CCHAIN_API void async_synchronize_full_domain(struct async_domain *domain);

/**
 * async_synchronize_cookie() - wait for the default domain's calls before a cookie
 * @cookie: wait for every call with a lower cookie
 *
 * Like async_synchronize_cookie_domain() on the default domain: returns
 * once every call of that domain with a lower cookie has returned.
 *
 * Context: may sleep.
 */
CCHAIN_API void async_synchronize_cookie(async_cookie_t cookie);

/**
 * async_synchronize_full() - wait for every call of every registered domain
 *
 * Returns once every call scheduled before it in a registered domain (the
 * default one, and those defined with ASYNC_DOMAIN()) has returned; calls
 * in exclusive domains are not waited for.
 *
 * Context: may sleep.
 */
CCHAIN_API void async_synchronize_full(void);

/**
 * async_unregister_domain() - stop async_synchronize_full() from waiting on it
 * @domain: a domain with no pending calls
 *
 * Afterwards the domain is exclusive.  A domain with pending calls is
 * reported as misuse and stays registered.
 *
 * Context: any thread.
 */
CCHAIN_API void async_unregister_domain(struct async_domain *domain);

/**
 * current_is_async() - is the caller running an async function?
 *
 * True while the calling thread runs a scheduled function: on a worker, or
 * in the scheduling thread when no worker could be started.  False
 * elsewhere, and in a function run synchronously because memory or the
 * limit of pending calls ran out.
 *
 * Context: any thread; never sleeps.
 * Return: true on a worker thread, inside the scheduled function.
 */
CCHAIN_API bool current_is_async(void);

/* Userspace extensions. */

/**
 * cchain_async_set_max_active() - limit how many async functions run at once
 * @max_active: the limit, at least 1 (default 512)
 *
 * Lowering the limit does not stop functions that already run; raising it
 * starts queued ones.
 *
 * Context: any thread.
 * Return: 0, or EINVAL when @max_active is 0.
 */
CCHAIN_API int cchain_async_set_max_active(unsigned int max_active);

/**
 * cchain_async_max_active() - the current limit
 *
 * The value last set with cchain_async_set_max_active(), 512 by default.
 *
 * Context: any thread; never sleeps.
 * Return: how many async functions may run at once.
 */
CCHAIN_API unsigned int cchain_async_max_active(void);

/**
 * cchain_async_shutdown() - wait for every async call, then stop the workers
 *
 * Waits until every call scheduled before it, in every domain (registered
 * or exclusive), has returned, then stops the worker threads and joins
 * them: once it returns, the async layer holds no thread and no memory, so
 * a program that calls it before exiting is clean under valgrind's leak
 * checker.  The layer stays usable: the next async_schedule() or
 * async_schedule_domain() starts workers again.
 *
 * Calls that other threads schedule while it runs are run too, but the
 * workers they start may outlive it: for a clean exit, call it when no
 * other thread schedules any more.
 *
 * Context: may sleep; not from an async function (reported as misuse, and
 * nothing is done: it would wait for itself).
 * Memory ordering: everything the awaited functions did happens before
 * this returns.
 */
CCHAIN_API void cchain_async_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif /* CCHAIN_ASYNC_H */
