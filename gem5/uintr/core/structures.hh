/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The architectural data of Intel user interrupts (UINTR-ABI.md §3-§5),
 * without any simulator type, so that the gem5 model and its unit tests
 * share one definition of every bit.  The semantics of post/take are those
 * of uintr-sys (uintr-sys/src/structures.rs): a vector that is already
 * posted coalesces, ON is set by the first poster and cleared by the
 * receiver before it takes PIR, SN suppresses notifications but not posts.
 *
 *   UPID, 16 bytes, 64-byte aligned
 *    63           32 31     24 23     16 15          2   1    0
 *   +---------------+---------+---------+-------------+----+----+
 *   | NDST (APIC id)| reserved|   NV    |  reserved   | SN | ON |  control
 *   +---------------+---------+---------+-------------+----+----+
 *   |        PIR: one pending bit per user vector 63..0            |  pir
 *   +--------------------------------------------------------------+
 *
 *   UITT entry, 16 bytes:  word0 = V (bit 0) | UV << 8,  word1 = UPID
 */

#ifndef NEMO_UINTR_CORE_STRUCTURES_HH
#define NEMO_UINTR_CORE_STRUCTURES_HH

#include <cstdint>

namespace nemo_uintr
{
namespace core
{

constexpr unsigned numVectors = 64;
constexpr unsigned uittEntries = 256;

constexpr uint64_t upidOn = 1ULL << 0;
constexpr uint64_t upidSn = 1ULL << 1;
constexpr unsigned upidNvShift = 16;
constexpr unsigned upidNdstShift = 32;
constexpr uint64_t upidSize = 16;
constexpr uint64_t upidAlign = 64;
constexpr uint64_t upidPirOffset = 8;
constexpr uint64_t uittEntrySize = 16;

/** The notification vector the kernel programs into UINV and every UPID. */
constexpr uint8_t notificationVector = 0xec;

/** STACKADJUST after registration: skip the 128-byte red zone. */
constexpr uint64_t defaultStackAdjust = 128;

/** RFLAGS bits UIRET takes from the frame (SDM: CF, PF, AF, ZF, SF, TF,
 *  DF, OF, NT, RF, AC, ID); IF, IOPL, VM and the other system bits keep
 *  their current value. */
constexpr uint64_t uiretFlagMask = 0x254dd5ULL;

/** Guest memory as seen by the model: 64-bit little-endian words. */
class GuestMemory
{
  public:
    virtual ~GuestMemory() = default;
    virtual uint64_t read64(uint64_t addr) = 0;
    virtual void write64(uint64_t addr, uint64_t value) = 0;
};

/** What the sender's half of SENDUIPI did (uintr-sys PostOutcome). */
enum class PostOutcome
{
    /** Posted, ON was clear and is now set: notify the receiver. */
    Notify,
    /** Posted; a notification is already outstanding. */
    Outstanding,
    /** Posted; notifications are suppressed (SN). */
    Suppressed,
};

const char *postOutcomeName(PostOutcome o);

/** The UPID control word from its fields. */
uint64_t upidControl(bool on, bool sn, uint8_t nv, uint32_t ndst);

/** Sender half of SENDUIPI: PIR |= bit; then, unless SN or ON, set ON. */
PostOutcome upidPost(GuestMemory &mem, uint64_t upid, unsigned vector);

/** Receiver half (notification processing): clear ON, then take PIR. */
uint64_t upidTake(GuestMemory &mem, uint64_t upid);

/** Sets or clears SN; returns the previous SN. */
bool upidSetSuppress(GuestMemory &mem, uint64_t upid, bool suppress);

/** One UITT entry as two raw words. */
struct UittEntry
{
    uint64_t word0 = 0;
    uint64_t upid = 0;

    static UittEntry make(uint64_t upid_addr, unsigned vector);
    bool valid() const { return word0 & 1; }
    /** The user vector, or -1 when the entry encodes one >= 64. */
    int vector() const;
};

UittEntry readUittEntry(GuestMemory &mem, uint64_t table, unsigned index);
void writeUittEntry(GuestMemory &mem, uint64_t table, unsigned index,
                    const UittEntry &e);

/** How SENDUIPI faults, per the SDM pseudo-code. */
enum class SendFault
{
    None,
    /** No target table (IA32_UINTR_TT bit 0 clear): #UD, SIGILL. */
    InvalidOpcode,
    /** Index beyond the table, invalid entry or bad vector: #GP, SIGSEGV. */
    GeneralProtection,
};

struct SendLookup
{
    SendFault fault = SendFault::None;
    unsigned vector = 0;
    uint64_t upid = 0;
    unsigned index = 0;
};

/** The architectural checks and UITT read of SENDUIPI.
 *  @param tt    IA32_UINTR_TT (bit 0 valid, 63:4 table address)
 *  @param misc  IA32_UINTR_MISC (31:0 table size - 1) */
SendLookup senduipiLookup(GuestMemory &mem, uint64_t tt, uint64_t misc,
                          uint64_t index);

uint64_t uintrTt(uint64_t table_addr);
uint64_t uintrMisc(uint32_t table_entries, uint8_t uinv);

/** The highest vector set in a non-zero pending word (63 has priority). */
unsigned highestVector(uint64_t pending);

/** STACKADJUST for uintr_alt_stack(sp): sp | 1, or the default for NULL. */
uint64_t altStackAdjust(uint64_t sp);

/** The frame the CPU pushes when it delivers a user interrupt (§4). */
struct DeliveryFrame
{
    /** RSP at handler entry; 16-byte aligned. */
    uint64_t rsp = 0;
    /** [rsp] vector, [rsp+8] RIP, [rsp+16] RFLAGS, [rsp+24] old RSP. */
    uint64_t slot[4] = {0, 0, 0, 0};
};

DeliveryFrame deliveryFrame(uint64_t rsp, uint64_t stack_adjust,
                            uint64_t rip, uint64_t rflags, unsigned vector);
void writeDeliveryFrame(GuestMemory &mem, const DeliveryFrame &f);

/** What UIRET loads from the stack. */
struct UiretState
{
    uint64_t rip = 0;
    uint64_t rflags = 0;
    uint64_t rsp = 0;
};

UiretState uiretPop(GuestMemory &mem, uint64_t rsp);

/** RFLAGS after UIRET: the restorable bits from the frame, the rest kept. */
uint64_t uiretFlags(uint64_t current, uint64_t popped);

} // namespace core
} // namespace nemo_uintr

#endif // NEMO_UINTR_CORE_STRUCTURES_HH
