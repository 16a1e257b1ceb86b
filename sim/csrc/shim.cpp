// C ABI over the verilated `top` models, one set of functions per model.
// The models are the simulated lines of srsa-hw's shape table and the bare
// arrays `srsa bench` compares them with: build.rs writes their #includes
// and SRSA_VARIANT / SRSA_BARE lines into OUT_DIR/models.inc, included at
// the end.
//
// The Rust side crosses into C++ once per batch of cycles, so a batch loop
// lives here. Every model has its own VerilatedContext: devices are
// independent (time, finish flag) and may live on different threads.

#include <cstdint>
#include <cstddef>
#include <memory>

#include "verilated.h"
#if SRSA_TRACE
#include "verilated_vcd_c.h"
#endif

// Clock cycles per bit of the verilated UART top (build.rs defines it).
#ifndef SRSA_UART_CPB
#error "build.rs defines SRSA_UART_CPB"
#endif

extern "C" {
// Mirrors `RunResult` in src/ffi.rs.
struct SrsaRun {
    uint64_t consumed;  // input words the device accepted
    uint64_t produced;  // output words collected
    uint64_t cycles;    // rising edges run
};
}

namespace {

// Simulated time per clock period; one VCD step per half period.
constexpr uint64_t HALF = 5;

// A word-stream top at power-up: nothing offered, nothing accepted.
struct WordPorts {
    template <class M>
    static void init(M& m) {
        m.cmd_valid = 0;
        m.cmd_data = 0;
        m.rsp_ready = 0;
        m.reset = 0;
    }
};

// The UART top: the line idles high, the reset button is released. A port
// policy rather than an overload on the model class, so that the generated
// lines alone say which model is which.
struct SerialPorts {
    template <class M>
    static void init(M& m) {
        m.uart_rx = 1;
        m.reset = 0;
    }
};

template <class M, class Ports = WordPorts>
struct Dev {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<M> model;
    uint64_t cycle = 0;  // rising edges so far
#if SRSA_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    uint64_t trace_start = 0, trace_end = 0;
#endif

    Dev() : ctx(new VerilatedContext) {
#if SRSA_TRACE
        // Must precede the model: the model registers its trace hooks with
        // the context only when this is on.
        ctx->traceEverOn(true);
#endif
        // "TOP" is Verilator's usual name: the VCD shows the ports in scope TOP
        // above the module instance `top`.
        model.reset(new M(ctx.get(), "TOP"));
        model->clock = 0;
        Ports::init(*model);
        // Runs initial blocks (the DFFs' power-up values) before any edge.
        model->eval();
    }

    ~Dev() {
        trace_close();
        model->final();
    }

    void trace_dump(uint64_t time) {
#if SRSA_TRACE
        if (vcd && cycle >= trace_start && cycle < trace_end) vcd->dump(time);
#else
        (void)time;
#endif
    }

    // One clock period. Inputs change with the clock low (the falling edge
    // of the previous period); ready/valid are sampled after that eval, so
    // they are exactly what the registers see at the rising edge that
    // follows (outputs may depend combinationally on inputs).
    void tick(bool cmd_valid, uint32_t cmd_data, bool rsp_ready, bool* cmd_fire,
              bool* rsp_fire, uint32_t* rsp_data) {
        M& m = *model;
        m.clock = 0;
        m.cmd_valid = cmd_valid;
        m.cmd_data = cmd_data;
        m.rsp_ready = rsp_ready;
        m.eval();
        trace_dump(cycle * 2 * HALF);
        *cmd_fire = cmd_valid && m.cmd_ready;
        *rsp_fire = rsp_ready && m.rsp_valid;
        *rsp_data = m.rsp_data;
        m.clock = 1;
        m.eval();
        trace_dump(cycle * 2 * HALF + HALF);
        ++cycle;
#if SRSA_TRACE
        // Close as soon as the window is over so the file is complete
        // without an explicit close.
        if (vcd && cycle >= trace_end) trace_close();
#endif
    }

    void run(const uint32_t* in, size_t n_in, uint32_t* out, size_t n_out, uint64_t max_cycles,
             SrsaRun* res) {
        size_t consumed = 0, produced = 0;
        uint64_t cycles = 0;
        while (produced < n_out && cycles < max_cycles && !ctx->gotFinish()) {
            const bool valid = consumed < n_in;
            bool cmd_fire, rsp_fire;
            uint32_t data;
            // rsp_ready is 1 only while out has room, so no word is lost.
            tick(valid, valid ? in[consumed] : 0, true, &cmd_fire, &rsp_fire, &data);
            if (cmd_fire) ++consumed;
            if (rsp_fire) out[produced++] = data;
            ++cycles;
        }
        res->consumed = consumed;
        res->produced = produced;
        res->cycles = cycles;
    }

    // Clock with nothing offered and nothing accepted.
    uint64_t idle(uint64_t cycles) {
        uint64_t done = 0;
        for (; done < cycles && !ctx->gotFinish(); ++done) {
            bool a, b;
            uint32_t d;
            tick(false, 0, false, &a, &b, &d);
        }
        return done;
    }

    // 0 on success, -1 if the file cannot be opened, -2 without trace support.
    int trace_open(const char* path, uint64_t start, uint64_t end) {
#if SRSA_TRACE
        trace_close();
        std::unique_ptr<VerilatedVcdC> v(new VerilatedVcdC);
        model->trace(v.get(), 99);
        v->open(path);
        if (!v->isOpen()) return -1;
        vcd = std::move(v);
        trace_start = start;
        trace_end = end;
        return 0;
#else
        (void)path, (void)start, (void)end;
        return -2;
#endif
    }

    void trace_close() {
#if SRSA_TRACE
        if (vcd) {
            vcd->close();
            vcd.reset();
        }
#endif
    }
};


// The UART board top, driven at bit level: the host side of the serial line
// (what a USB-UART does) lives here, so words cross the Rust boundary as
// words while every bit crosses the simulated line. 8N1, LSB first, bytes
// of a word least significant first, sent back to back.
template <class M>
struct UartDev : Dev<M, SerialPorts> {
    static constexpr int CPB = SRSA_UART_CPB;
    // Host -> device: position in the word at the head of the input.
    int tx_byte = 0;   // 0..3: byte of the head word being sent
    int tx_bit = -1;   // -1: idle (next: start bit); 0: start; 1..8 data; 9 stop
    int tx_count = 0;  // clocks left in the current bit
    // Device -> host.
    bool rx_busy = false;
    int rx_count = 0;  // clocks to the next sample
    int rx_bit = 0;    // 0: start (mid-bit check), 1..8 data, 9 stop
    uint32_t rx_shift = 0;
    uint32_t rx_word = 0;
    int rx_bytes = 0;

    // Line level for this clock, advancing the sender; `sent_word` is set
    // when the last stop bit of the head word has gone out.
    bool drive(const uint32_t* in, size_t n_in, size_t consumed, bool* sent_word) {
        *sent_word = false;
        if (tx_bit < 0) {
            if (consumed >= n_in) return true;
            tx_bit = 0;
            tx_count = CPB;
        }
        const uint32_t byte = (in[consumed] >> (8 * tx_byte)) & 0xFF;
        const bool level = tx_bit == 0 ? false : tx_bit == 9 ? true : ((byte >> (tx_bit - 1)) & 1);
        if (--tx_count == 0) {
            if (++tx_bit > 9) {
                tx_bit = -1;
                if (++tx_byte == 4) {
                    tx_byte = 0;
                    *sent_word = true;
                }
            } else {
                tx_count = CPB;
            }
        }
        return level;
    }

    // Samples the device's line once per clock; true when a word is complete.
    bool listen(bool line, uint32_t* word) {
        if (!rx_busy) {
            if (!line) {
                rx_busy = true;
                rx_bit = 0;
                rx_count = CPB / 2;
            }
            return false;
        }
        if (--rx_count > 0) return false;
        rx_count = CPB;
        if (rx_bit == 0) {
            if (line) rx_busy = false;  // a glitch, not a start bit
            rx_bit = 1;
            return false;
        }
        if (rx_bit <= 8) {
            rx_shift |= uint32_t(line) << (rx_bit - 1);
            ++rx_bit;
            return false;
        }
        // Stop bit: a bad one drops the byte (the host's framing error).
        rx_busy = false;
        const uint32_t byte = rx_shift;
        rx_shift = 0;
        if (!line) return false;
        rx_word |= byte << (8 * rx_bytes);
        if (++rx_bytes < 4) return false;
        *word = rx_word;
        rx_word = 0;
        rx_bytes = 0;
        return true;
    }

    void tick_line(bool rx_level, bool* tx_level) {
        M& m = *this->model;
        m.clock = 0;
        m.uart_rx = rx_level;
        m.eval();
        this->trace_dump(this->cycle * 2 * HALF);
        *tx_level = m.uart_tx;
        m.clock = 1;
        m.eval();
        this->trace_dump(this->cycle * 2 * HALF + HALF);
        ++this->cycle;
#if SRSA_TRACE
        if (this->vcd && this->cycle >= this->trace_end) this->trace_close();
#endif
    }

    void run(const uint32_t* in, size_t n_in, uint32_t* out, size_t n_out, uint64_t max_cycles,
             SrsaRun* res) {
        size_t consumed = 0, produced = 0;
        uint64_t cycles = 0;
        while (produced < n_out && cycles < max_cycles && !this->ctx->gotFinish()) {
            bool sent, tx;
            const bool level = drive(in, n_in, consumed, &sent);
            tick_line(level, &tx);
            if (sent) ++consumed;
            uint32_t word;
            if (listen(tx, &word)) out[produced++] = word;
            ++cycles;
        }
        res->consumed = consumed;
        res->produced = produced;
        res->cycles = cycles;
    }

    // The line stays idle; what the device sends meanwhile is not collected.
    uint64_t idle(uint64_t cycles) {
        uint64_t done = 0;
        for (; done < cycles && !this->ctx->gotFinish(); ++done) {
            bool tx;
            tick_line(true, &tx);
        }
        return done;
    }
};

// Mixes one output word into a checksum: cheap (it runs every cycle, inside
// what the bench times), and order-sensitive so that a changed value at
// any cycle changes the result.
inline uint64_t srsa_fold(uint64_t h, uint64_t v) { return ((h << 7) | (h >> 57)) ^ v; }

// A bare array behind its test feed (srsa-hw's ArrayTop): the feed is in
// the hardware, so a cycle here is the two evals of a clock period and the
// fold of every column's output, which `Outs` (generated: it names the
// ports) does. Built and driven like Dev, trace hooks included, so that
// the bench's ratio compares the models and not their drivers.
template <class M, class Outs>
struct BareDev {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<M> model;
    uint64_t cycle = 0;
    uint64_t checksum = 0;

    BareDev() : ctx(new VerilatedContext) {
#if SRSA_TRACE
        ctx->traceEverOn(true);
#endif
        model.reset(new M(ctx.get(), "TOP"));
        model->clock = 0;
        model->eval();
    }

    ~BareDev() { model->final(); }

    uint64_t tick(uint64_t cycles) {
        M& m = *model;
        uint64_t done = 0;
        for (; done < cycles && !ctx->gotFinish(); ++done) {
            m.clock = 0;
            m.eval();
            checksum = Outs::fold(m, checksum);
            m.clock = 1;
            m.eval();
            ++cycle;
        }
        return done;
    }
};

template <class D>
D* dev(void* d) {
    return static_cast<D*>(d);
}

}  // namespace

// Stamps out the C ABI for one model class (declared in src/ffi.rs). Null
// pointers are the Rust side's bug, not an input error, and are not checked
// here. noexcept: an exception must terminate here rather than unwind into
// Rust frames.
#define SRSA_VARIANT(name, M)                                                              \
    extern "C" void* name##_new() noexcept { return new M(); }                             \
    extern "C" void name##_free(void* d) noexcept { delete dev<M>(d); }                    \
    extern "C" void name##_run(void* d, const uint32_t* in, size_t n_in, uint32_t* out,    \
                               size_t n_out, uint64_t max_cycles, SrsaRun* res) noexcept { \
        dev<M>(d)->run(in, n_in, out, n_out, max_cycles, res);                             \
    }                                                                                      \
    extern "C" uint64_t name##_idle(void* d, uint64_t cycles) noexcept {                   \
        return dev<M>(d)->idle(cycles);                                                    \
    }                                                                                      \
    extern "C" int name##_trace_open(void* d, const char* path, uint64_t start,            \
                                     uint64_t end) noexcept {                              \
        return dev<M>(d)->trace_open(path, start, end);                                    \
    }                                                                                      \
    extern "C" void name##_trace_close(void* d) noexcept { dev<M>(d)->trace_close(); }     \
    extern "C" uint64_t name##_cycles(void* d) noexcept { return dev<M>(d)->cycle; }       \
    extern "C" int name##_finished(void* d) noexcept {                                     \
        return dev<M>(d)->ctx->gotFinish() ? 1 : 0;                                        \
    }

// The same for a bare array (declared in src/ffi.rs, `bare!`).
#define SRSA_BARE(name, M)                                                                 \
    extern "C" void* name##_new() noexcept { return new M(); }                             \
    extern "C" void name##_free(void* d) noexcept { delete dev<M>(d); }                    \
    extern "C" uint64_t name##_tick(void* d, uint64_t cycles) noexcept {                   \
        return dev<M>(d)->tick(cycles);                                                    \
    }                                                                                      \
    extern "C" uint64_t name##_cycles(void* d) noexcept { return dev<M>(d)->cycle; }       \
    extern "C" uint64_t name##_checksum(void* d) noexcept { return dev<M>(d)->checksum; }

#include "models.inc"
