/* SPDX-License-Identifier: MIT */
/* libcchain: ordered async completion chains.  Umbrella header. */
#ifndef CCHAIN_CCHAIN_H
#define CCHAIN_CCHAIN_H

#include <cchain/version.h>
#include <cchain/compl_chain.h>
#include <cchain/async.h>
#include <cchain/shared.h>
#include <cchain/notify.h>

#endif /* CCHAIN_CCHAIN_H */
