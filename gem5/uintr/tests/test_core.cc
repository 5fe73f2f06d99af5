/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Unit tests of the simulator-free core of the gem5 UINTR model.  Built
 * and run by bench/tests/gem5_uintr_model.rs (g++ -std=c++17), or by hand:
 *
 *   g++ -std=c++17 -Wall -Wextra -Werror -I gem5/uintr/core \
 *       gem5/uintr/core/{structures,kernel,kb_timer,monitor,delivery_account}.cc \
 *       gem5/uintr/tests/test_{core,monitor,delivery_account}.cc -o test_core
 *   ./test_core
 *
 * The UPID/UITT cases mirror uintr-sys/src/structures.rs, so the model and
 * the Rust crate are held to the same semantics.
 */

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "check.hh"
#include "kb_timer.hh"
#include "kernel.hh"
#include "structures.hh"

using namespace nemo_uintr::core;

namespace
{

class FakeMemory : public GuestMemory
{
  public:
    uint64_t
    read64(uint64_t addr) override
    {
        auto it = words.find(addr);
        return it == words.end() ? 0 : it->second;
    }
    void write64(uint64_t addr, uint64_t value) override
    {
        words[addr] = value;
    }
    std::map<uint64_t, uint64_t> words;
};

class FakeHost : public KernelHost
{
  public:
    GuestMemory *
    memory(int tgid) override
    {
        return &mems[tgid];
    }
    uint64_t
    allocate(int tgid, uint64_t bytes) override
    {
        if (failAllocations)
            return 0;
        uint64_t &next = nextFree[tgid];
        if (!next)
            next = 0x7f0000000000ULL;
        const uint64_t at = next;
        next += (bytes + 4095) & ~4095ULL;
        allocations++;
        return at;
    }
    bool alive(const Thread &t) override { return !dead.count(t.pid); }

    std::map<int, FakeMemory> mems;
    std::map<int, uint64_t> nextFree;
    std::set<int> dead;
    bool failAllocations = false;
    int allocations = 0;
};

void
testControlBits()
{
    CHECK_EQ(upidControl(true, false, 0, 0), 1u);
    CHECK_EQ(upidControl(false, true, 0, 0), 2u);
    CHECK_EQ(upidControl(false, false, 0xec, 0), 0xecULL << 16);
    CHECK_EQ(upidControl(false, false, 0, 7), 7ULL << 32);
    const uint64_t c = upidControl(true, true, 0xab, 0xdeadbeef);
    CHECK_EQ(c, 0xdeadbeef00ab0003ULL);
}

void
testPostCoalescesAndNotifiesOnce()
{
    FakeMemory m;
    const uint64_t upid = 0x1000;
    CHECK(upidPost(m, upid, 5) == PostOutcome::Notify);
    CHECK(upidPost(m, upid, 5) == PostOutcome::Outstanding);
    CHECK(upidPost(m, upid, 9) == PostOutcome::Outstanding);
    CHECK(m.read64(upid) & upidOn);
    CHECK_EQ(upidTake(m, upid), (1ULL << 5) | (1ULL << 9));
    CHECK(!(m.read64(upid) & upidOn));
    CHECK_EQ(upidTake(m, upid), 0u);
    CHECK(upidPost(m, upid, 5) == PostOutcome::Notify);
    CHECK(std::string(postOutcomeName(PostOutcome::Outstanding)) ==
          "outstanding");
}

void
testSuppressedPostsAreKept()
{
    FakeMemory m;
    const uint64_t upid = 0x2000;
    CHECK(!upidSetSuppress(m, upid, true));
    CHECK(upidPost(m, upid, 1) == PostOutcome::Suppressed);
    CHECK(!(m.read64(upid) & upidOn));
    CHECK(upidSetSuppress(m, upid, false));
    CHECK_EQ(m.read64(upid + upidPirOffset), 2u);
    CHECK(upidPost(m, upid, 1) == PostOutcome::Notify);
    CHECK_EQ(upidTake(m, upid), 2u);
}

void
testPostsAreNeverLost()
{
    // Any interleaving of posts and takes: the union of what the receiver
    // took is what the senders posted, and a take follows every Notify.
    std::mt19937_64 rng(12345);
    for (int round = 0; round < 200; ++round) {
        FakeMemory m;
        const uint64_t upid = 0x3000;
        uint64_t posted = 0, taken = 0;
        bool outstanding = false;
        for (int step = 0; step < 300; ++step) {
            if (rng() % 3) {
                const unsigned v = rng() % 64;
                posted |= 1ULL << v;
                const PostOutcome o = upidPost(m, upid, v);
                CHECK(o != PostOutcome::Suppressed);
                CHECK_EQ(o == PostOutcome::Notify, !outstanding);
                outstanding = true;
            } else if (outstanding) {
                taken |= upidTake(m, upid);
                outstanding = false;
            }
        }
        taken |= upidTake(m, upid);
        CHECK_EQ(taken, posted);
    }
}

void
testUittEntryBits()
{
    const UittEntry e = UittEntry::make(0xabc0, 42);
    CHECK_EQ(e.word0, 1u | (42u << 8));
    CHECK_EQ(e.upid, 0xabc0u);
    CHECK(e.valid());
    CHECK_EQ(e.vector(), 42);
    CHECK(!UittEntry().valid());
    UittEntry bad;
    bad.word0 = 1 | (200 << 8);
    CHECK_EQ(bad.vector(), -1);

    FakeMemory m;
    writeUittEntry(m, 0x5000, 3, e);
    CHECK_EQ(m.read64(0x5000 + 48), e.word0);
    CHECK_EQ(m.read64(0x5000 + 56), e.upid);
    const UittEntry back = readUittEntry(m, 0x5000, 3);
    CHECK_EQ(back.word0, e.word0);
    CHECK_EQ(back.upid, e.upid);
}

void
testSenduipiLookup()
{
    FakeMemory m;
    const uint64_t table = 0x10000;
    const uint64_t tt = uintrTt(table);
    const uint64_t misc = uintrMisc(256, notificationVector);
    CHECK_EQ(misc, 255ULL | (0xecULL << 32));
    writeUittEntry(m, table, 0, UittEntry::make(0x40c0, 7));

    CHECK(senduipiLookup(m, 0, misc, 0).fault == SendFault::InvalidOpcode);
    CHECK(senduipiLookup(m, tt, misc, 256).fault ==
          SendFault::GeneralProtection);
    CHECK(senduipiLookup(m, tt, misc, 1).fault ==
          SendFault::GeneralProtection);
    const SendLookup ok = senduipiLookup(m, tt, misc, 0);
    CHECK(ok.fault == SendFault::None);
    CHECK_EQ(ok.vector, 7u);
    CHECK_EQ(ok.upid, 0x40c0u);

    // Reserved bits, a vector >= 64 and an unaligned UPID are #GP.
    UittEntry e = UittEntry::make(0x40c0, 7);
    e.word0 |= 1ULL << 20;
    writeUittEntry(m, table, 1, e);
    CHECK(senduipiLookup(m, tt, misc, 1).fault ==
          SendFault::GeneralProtection);
    writeUittEntry(m, table, 2, UittEntry::make(0x40c0, 64));
    CHECK(senduipiLookup(m, tt, misc, 2).fault ==
          SendFault::GeneralProtection);
    writeUittEntry(m, table, 3, UittEntry::make(0x40c8, 7));
    CHECK(senduipiLookup(m, tt, misc, 3).fault ==
          SendFault::GeneralProtection);
}

void
testHighestVectorAndAltStack()
{
    CHECK_EQ(highestVector(0b1011), 3u);
    CHECK_EQ(highestVector(1ULL << 63), 63u);
    CHECK_EQ(highestVector((1ULL << 60) | (1ULL << 3)), 60u);
    CHECK_EQ(altStackAdjust(0), defaultStackAdjust);
    CHECK_EQ(altStackAdjust(0x7000), 0x7001u);
}

void
testDeliveryFrameAndUiret()
{
    // Default STACKADJUST: skip the red zone, align, push four words.
    for (uint64_t rsp = 0x7ffff000; rsp < 0x7ffff010; ++rsp) {
        const DeliveryFrame f =
            deliveryFrame(rsp, defaultStackAdjust, 0x401000, 0x246, 17);
        CHECK_EQ(f.rsp % 16, 0u);
        CHECK(f.rsp + 32 <= rsp - 128);
        CHECK(f.rsp + 32 + 16 > rsp - 128);
        CHECK_EQ(f.slot[0], 17u);
        CHECK_EQ(f.slot[1], 0x401000u);
        CHECK_EQ(f.slot[2], 0x246u);
        CHECK_EQ(f.slot[3], rsp);
    }
    // Alternate stack: STACKADJUST = top | 1 is loaded, not subtracted.
    const DeliveryFrame alt =
        deliveryFrame(0x7ffff008, altStackAdjust(0x600008), 0x1, 0x2, 3);
    CHECK_EQ(alt.rsp, 0x600000u - 32);

    // Handler: `add rsp, 8; uiret` returns to the interrupted state.
    FakeMemory m;
    const DeliveryFrame f =
        deliveryFrame(0x7fff1238, defaultStackAdjust, 0x40abcd, 0x8d7, 63);
    writeDeliveryFrame(m, f);
    CHECK_EQ(m.read64(f.rsp), 63u);
    const UiretState s = uiretPop(m, f.rsp + 8);
    CHECK_EQ(s.rip, 0x40abcdu);
    CHECK_EQ(s.rflags, 0x8d7u);
    CHECK_EQ(s.rsp, 0x7fff1238u);
    // Status flags come from the frame; IF (bit 9) and IOPL stay.
    CHECK_EQ(uiretFlags(0x3202, 0x8d7), (0x3202ULL & ~uiretFlagMask) |
                                            (0x8d7ULL & uiretFlagMask));
    CHECK(uiretFlags(0x202, 0x0) & 0x200);
    CHECK(!(uiretFlags(0x202, 0x1) & ~0x203ULL));
}

Thread
thread(int pid, int tgid, int ctx)
{
    Thread t;
    t.pid = pid;
    t.tgid = tgid;
    t.context = ctx;
    return t;
}

void
testRegisterHandlerErrors()
{
    FakeHost h;
    Kernel k(h, false);
    const Thread t = thread(101, 100, 1);
    CHECK_EQ(k.registerHandler(t, 0x401000, 0x4), -EINVAL);
    CHECK_EQ(k.registerHandler(t, 0x401000, handlerWaitingReceiver),
             -EINVAL);
    CHECK_EQ(k.registerHandler(t, 0, 0), -EFAULT);
    CHECK_EQ(k.registerHandler(t, 0x401000, 0), 0);
    CHECK_EQ(k.registerHandler(t, 0x401000, 0), -EBUSY);
    const Receiver *r = k.receiver(101);
    CHECK(r && r->registered);
    CHECK_EQ(r->upid % upidAlign, 0u);
    CHECK_EQ(r->stackAdjust, defaultStackAdjust);
    CHECK_EQ(h.mems[100].read64(r->upid),
             upidControl(false, false, notificationVector, 1));

    Kernel kb(h, true);
    CHECK_EQ(kb.registerHandler(thread(102, 100, 2), 0x401000,
                                handlerWaitingAny), 0);
    CHECK_EQ(kb.unregisterHandler(thread(102, 100, 2), 1), -EINVAL);
    CHECK_EQ(kb.unregisterHandler(thread(102, 100, 2), 0), 0);
    CHECK_EQ(kb.unregisterHandler(thread(102, 100, 2), 0), -EINVAL);

    FakeHost full;
    full.failAllocations = true;
    Kernel kf(full, false);
    CHECK_EQ(kf.registerHandler(t, 0x401000, 0), -ENOMEM);
}

void
testVectorFdAndSenders()
{
    FakeHost h;
    Kernel k(h, false);
    const Thread rx = thread(201, 200, 1);
    const Thread tx = thread(202, 200, 0);
    VectorTarget vt;
    CHECK_EQ(k.vectorFd(rx, 3, 0, vt), -EINVAL);
    CHECK_EQ(k.registerHandler(rx, 0x401000, 0), 0);
    CHECK_EQ(k.vectorFd(rx, 64, 0, vt), -ENOSPC);
    CHECK_EQ(k.vectorFd(rx, 3, 1, vt), -EINVAL);
    CHECK_EQ(k.vectorFd(rx, 3, 0, vt), 0);
    CHECK_EQ(vt.vector, 3u);
    CHECK_EQ(k.registerSender(tx, vt, 1), -EINVAL);
    CHECK_EQ(k.targetTableMsr(200), 0u);
    for (int i = 0; i < 256; ++i)
        CHECK_EQ(k.registerSender(tx, vt, 0), i);
    CHECK_EQ(k.registerSender(tx, vt, 0), -ENOSPC);
    CHECK(k.targetTableMsr(200) & 1);
    CHECK_EQ(k.miscMsr(200) & 0xffffffff, 255u);

    CHECK_EQ(k.unregisterSender(tx, 256, 0), -EINVAL);
    CHECK_EQ(k.unregisterSender(tx, -1, 0), -EINVAL);
    CHECK_EQ(k.unregisterSender(tx, 5, 1), -EINVAL);
    CHECK_EQ(k.unregisterSender(tx, 5, 0), 0);
    CHECK_EQ(k.unregisterSender(tx, 5, 0), -EINVAL);
    CHECK(k.send(tx, 5).fault == SendFault::GeneralProtection);
    CHECK_EQ(k.registerSender(tx, vt, 0), 5);

    // A process without a table cannot unregister anything.
    CHECK_EQ(k.unregisterSender(thread(301, 300, 2), 0, 0), -EINVAL);
}

void
testSendNotifyCoalesceAndTake()
{
    FakeHost h;
    Kernel k(h, false);
    const Thread rx = thread(401, 400, 3);
    const Thread tx = thread(402, 400, 0);
    CHECK(k.send(tx, 0).fault == SendFault::InvalidOpcode);
    CHECK_EQ(k.registerHandler(rx, 0x401000, 0), 0);
    VectorTarget v7, v60;
    CHECK_EQ(k.vectorFd(rx, 7, 0, v7), 0);
    CHECK_EQ(k.vectorFd(rx, 60, 0, v60), 0);
    const int i7 = int(k.registerSender(tx, v7, 0));
    const int i60 = int(k.registerSender(tx, v60, 0));
    CHECK(k.send(tx, 2).fault == SendFault::GeneralProtection);
    CHECK(k.send(tx, 256).fault == SendFault::GeneralProtection);

    SendResult s = k.send(tx, i7);
    CHECK(s.fault == SendFault::None);
    CHECK(s.notify);
    CHECK(s.outcome == PostOutcome::Notify);
    CHECK_EQ(s.receiver.pid, 401);
    CHECK_EQ(s.receiver.context, 3);
    CHECK_EQ(s.vector, 7u);
    // Coalesced: the same and another vector, no second notification.
    CHECK(!k.send(tx, i7).notify);
    s = k.send(tx, i60);
    CHECK(!s.notify);
    CHECK(s.outcome == PostOutcome::Outstanding);
    const uint64_t bits = k.notificationArrived(401);
    CHECK_EQ(bits, (1ULL << 7) | (1ULL << 60));
    CHECK_EQ(highestVector(bits), 60u);
    CHECK_EQ(k.notificationArrived(401), 0u);
    CHECK(k.send(tx, i7).notify);

    // Self-targeting index.
    const int self = int(k.registerSelf(rx, 9, 0));
    CHECK(self >= 0);
    CHECK_EQ(k.registerSelf(rx, 64, 0), -ENOSPC);
    CHECK_EQ(k.registerSelf(tx, 9, 0), -EINVAL);
    k.notificationArrived(401);
    s = k.send(rx, self);
    CHECK(s.notify);
    CHECK_EQ(s.receiver.pid, 401);
    CHECK_EQ(k.notificationArrived(401), 1ULL << 9);
}

/** The accesses a SENDUIPI and a notification are timed by name the
 *  UITT entry and the UPID that send() and notificationArrived() use, and
 *  looking them up changes nothing. */
void
testSendAccessesNameWhatSendTouches()
{
    FakeHost h;
    Kernel k(h, false);
    const Thread rx = thread(701, 700, 2);
    const Thread tx = thread(702, 700, 0);
    AccessChain chain = AccessChain::notification(0x40, 700);
    CHECK(k.sendAccesses(tx, 0, chain) == SendFault::InvalidOpcode);
    CHECK(chain.done());
    CHECK_EQ(k.registerHandler(rx, 0x401000, 0), 0);
    VectorTarget v;
    CHECK_EQ(k.vectorFd(rx, 11, 0, v), 0);
    const int idx = int(k.registerSender(tx, v, 0));
    CHECK(k.sendAccesses(tx, idx + 1, chain) ==
          SendFault::GeneralProtection);
    CHECK(chain.done());

    CHECK(k.sendAccesses(tx, idx, chain) == SendFault::None);
    const Access *entry = chain.next();
    CHECK(entry && entry->kind == AccessKind::Read);
    CHECK_EQ(entry->addr, (k.targetTableMsr(700) & ~0xfULL) +
                              uint64_t(idx) * uittEntrySize);
    CHECK_EQ(entry->tgid, 700);
    CHECK(chain.completed(1));
    const Access *upid = chain.next();
    CHECK(upid && upid->kind == AccessKind::LockedRmw);
    CHECK_EQ(upid->addr, k.receiver(701)->upid);
    // Nothing was posted by the lookup: the send still notifies.
    const SendResult s = k.send(tx, idx);
    CHECK(s.notify);
    CHECK_EQ(s.upid, upid->addr);

    AccessChain n = k.notificationAccesses(701);
    CHECK(n.next() && n.next()->addr == k.receiver(701)->upid);
    CHECK(k.notificationAccesses(999).done());
    CHECK_EQ(k.notificationArrived(701), 1ULL << 11);
}

void
testReceiverGone()
{
    FakeHost h;
    Kernel k(h, false);
    const Thread rx = thread(501, 500, 1);
    const Thread tx = thread(502, 500, 0);
    CHECK_EQ(k.registerHandler(rx, 0x401000, 0), 0);
    VectorTarget vt;
    CHECK_EQ(k.vectorFd(rx, 4, 0, vt), 0);
    const int idx = int(k.registerSender(tx, vt, 0));
    CHECK_EQ(idx, 0);

    // Unregistered: posts are kept in PIR but nobody is notified, new
    // senders get ESHUTDOWN, even after the thread registers again.
    CHECK_EQ(k.unregisterHandler(rx, 0), 0);
    SendResult s = k.send(tx, idx);
    CHECK(s.fault == SendFault::None);
    CHECK(s.outcome == PostOutcome::Suppressed);
    CHECK(!s.notify);
    CHECK_EQ(k.registerSender(tx, vt, 0), -ESHUTDOWN);
    CHECK_EQ(k.registerHandler(rx, 0x401000, 0), 0);
    CHECK_EQ(k.registerSender(tx, vt, 0), -ESHUTDOWN);

    // Exited without unregistering.
    const Thread rx2 = thread(503, 500, 2);
    CHECK_EQ(k.registerHandler(rx2, 0x401000, 0), 0);
    VectorTarget vt2;
    CHECK_EQ(k.vectorFd(rx2, 4, 0, vt2), 0);
    const int idx2 = int(k.registerSender(tx, vt2, 0));
    h.dead.insert(503);
    s = k.send(tx, idx2);
    CHECK(!s.notify);
    CHECK_EQ(s.receiver.pid, -1);
    CHECK_EQ(k.registerSender(tx, vt2, 0), -ESHUTDOWN);
    CHECK_EQ(k.notificationArrived(503), 0u);
}

void
testAltStackAndIpiFd()
{
    FakeHost h;
    Kernel k(h, false);
    const Thread t = thread(601, 600, 0);
    CHECK_EQ(k.altStack(t, 0x7000, 4096, 0), -EINVAL);
    CHECK_EQ(k.registerHandler(t, 0x401000, 0), 0);
    CHECK_EQ(k.altStack(t, 0x7000, 4096, 2), -EINVAL);
    CHECK_EQ(k.altStack(t, 0x7000, 0, 0), -EINVAL);
    CHECK_EQ(k.altStack(t, 0x7000, 4096, 0), 0);
    CHECK_EQ(k.receiver(601)->stackAdjust, 0x7001u);
    CHECK_EQ(k.altStack(t, 0, 0, 0), 0);
    CHECK_EQ(k.receiver(601)->stackAdjust, defaultStackAdjust);
    CHECK_EQ(k.ipiFd(t, 1), -EINVAL);
    CHECK_EQ(k.targetTableMsr(600), 0u);
    CHECK_EQ(k.ipiFd(t, 0), 0);
    CHECK(k.targetTableMsr(600) & 1);
}

void
testWait()
{
    FakeHost h;
    Kernel none(h, false);
    const Thread t = thread(701, 700, 0);
    CHECK_EQ(none.waitBegin(t, 10, 0, 0).result, -ENOSYS);

    Kernel k(h, true);
    CHECK_EQ(k.waitBegin(t, 10, 0, 0).result, -EOPNOTSUPP);
    CHECK_EQ(k.registerHandler(t, 0x401000, handlerWaitingReceiver), 0);
    CHECK_EQ(k.waitBegin(t, 10, 1, 0).result, -EINVAL);
    CHECK_EQ(k.waitBegin(t, maxWaitUsec + 1, 0, 0).result, -EINVAL);
    WaitDecision d = k.waitBegin(t, 10, 0, 1ULL << 5);
    CHECK(!d.block);
    CHECK_EQ(d.result, -EINTR);
    d = k.waitBegin(t, 0, 0, 0);
    CHECK(!d.block);
    CHECK_EQ(d.result, 0);
    d = k.waitBegin(t, maxWaitUsec, 0, 0);
    CHECK(d.block);
    CHECK_EQ(d.timeoutUsec, maxWaitUsec);
    CHECK(k.receiver(701)->waiting);
    k.waitEnd(701);
    CHECK(!k.receiver(701)->waiting);
}

void
testKbTimer()
{
    KbTimer t;
    CHECK(t.set(100, 50, 0, 64) == KbTimer::SetResult::BadVector);
    CHECK(t.set(100, 0, 1, 3) == KbTimer::SetResult::BadArgument);
    CHECK(t.set(100, 50, 2, 3) == KbTimer::SetResult::BadArgument);
    CHECK(!t.armed());

    // One-shot: an absolute deadline.
    CHECK(t.set(100, 1000, 0, 3) == KbTimer::SetResult::Ok);
    CHECK(t.armed() && !t.periodic());
    CHECK(!t.expire(999));
    CHECK(t.expire(1000));
    CHECK(!t.armed());
    CHECK(!t.expire(5000));

    // Periodic: a period; missed periods coalesce into one expiry.
    CHECK(t.set(100, 250, 1, 63) == KbTimer::SetResult::Ok);
    CHECK_EQ(t.deadline(), 350u);
    CHECK(t.expire(350));
    CHECK_EQ(t.deadline(), 600u);
    CHECK(t.expire(2000));
    CHECK_EQ(t.deadline(), 2250u);
    CHECK_EQ(t.vector(), 63u);
    t.clear();
    CHECK(!t.expire(3000));
}

} // anonymous namespace

int
main()
{
    TestList tests = {
        {"control_bits", testControlBits},
        {"post_coalesces_and_notifies_once",
         testPostCoalescesAndNotifiesOnce},
        {"suppressed_posts_are_kept", testSuppressedPostsAreKept},
        {"posts_are_never_lost", testPostsAreNeverLost},
        {"uitt_entry_bits", testUittEntryBits},
        {"senduipi_lookup", testSenduipiLookup},
        {"highest_vector_and_alt_stack", testHighestVectorAndAltStack},
        {"delivery_frame_and_uiret", testDeliveryFrameAndUiret},
        {"register_handler_errors", testRegisterHandlerErrors},
        {"vector_fd_and_senders", testVectorFdAndSenders},
        {"send_notify_coalesce_and_take", testSendNotifyCoalesceAndTake},
        {"send_accesses_name_what_send_touches",
         testSendAccessesNameWhatSendTouches},
        {"receiver_gone", testReceiverGone},
        {"alt_stack_and_ipi_fd", testAltStackAndIpiFd},
        {"wait", testWait},
        {"kb_timer", testKbTimer},
    };
    for (auto list :
         {monitorTests(), deliveryAccountTests(), upidAccessTests()}) {
        for (auto &t : list)
            tests.push_back(std::move(t));
    }
    for (const auto &t : tests) {
        const int before = failures;
        t.second();
        std::printf("test %-36s %s\n", t.first,
                    failures == before ? "ok" : "FAILED");
    }
    std::printf("%zu tests, %d checks, %d failures\n", tests.size(), checks,
                failures);
    return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
