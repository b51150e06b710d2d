// GRIDTREE_DCHECK: assertions of what a caller must guarantee and the code
// does not check on its fast paths (a NodeId from this View, an index in
// range). Where they are on, a failed check prints the file, the line, the
// condition and the values involved, then aborts; where they are off, the
// operands are not evaluated and nothing is compiled.
//
// They are on in builds without NDEBUG (the debug preset) and wherever
// GRIDTREE_DCHECKS=1 is defined (the sanitizer and fuzz presets), off in
// release builds.
//
//   GRIDTREE_DCHECK(cond)         the condition
//   GRIDTREE_DCHECK_LT(a, b)      a < b, printing a and b (also _LE, _EQ, _NE, _GE)
//   GRIDTREE_DCHECK_INDEX(i, n)   0 <= i < n
#pragma once

#include <string>

#if !defined(GRIDTREE_DCHECKS)
#if defined(NDEBUG)
#define GRIDTREE_DCHECKS 0
#else
#define GRIDTREE_DCHECKS 1
#endif
#endif

namespace gridtree::internal {

// Prints "file:line: check failed: what (values)" to stderr and aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* what, const std::string& values);

template <typename A, typename B>
std::string CheckValues(const A& a, const B& b) {
  return std::to_string(a) + " vs " + std::to_string(b);
}

}  // namespace gridtree::internal

#if GRIDTREE_DCHECKS
#define GRIDTREE_DCHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::gridtree::internal::CheckFailed(__FILE__, __LINE__, #cond, std::string()))
#define GRIDTREE_DCHECK_OP_(a, op, b)                                                                             \
  do {                                                                                                            \
    const auto& gridtree_check_a_ = (a);                                                                          \
    const auto& gridtree_check_b_ = (b);                                                                          \
    if (!(gridtree_check_a_ op gridtree_check_b_))                                                                \
      ::gridtree::internal::CheckFailed(__FILE__, __LINE__, #a " " #op " " #b,                                    \
                                        ::gridtree::internal::CheckValues(gridtree_check_a_, gridtree_check_b_)); \
  } while (0)
#define GRIDTREE_DCHECK_INDEX(i, n)                                                                                   \
  do {                                                                                                                \
    const auto& gridtree_check_i_ = (i);                                                                              \
    const auto& gridtree_check_n_ = (n);                                                                              \
    if (!(gridtree_check_i_ >= 0 && static_cast<size_t>(gridtree_check_i_) < static_cast<size_t>(gridtree_check_n_))) \
      ::gridtree::internal::CheckFailed(__FILE__, __LINE__, "0 <= " #i " < " #n,                                      \
                                        ::gridtree::internal::CheckValues(gridtree_check_i_, gridtree_check_n_));     \
  } while (0)
#else
#define GRIDTREE_DCHECK(cond) static_cast<void>(sizeof(!(cond)))
#define GRIDTREE_DCHECK_OP_(a, op, b) static_cast<void>(sizeof((a)op(b)))
#define GRIDTREE_DCHECK_INDEX(i, n) static_cast<void>(sizeof((i) < (n)))
#endif

#define GRIDTREE_DCHECK_LT(a, b) GRIDTREE_DCHECK_OP_(a, <, b)
#define GRIDTREE_DCHECK_LE(a, b) GRIDTREE_DCHECK_OP_(a, <=, b)
#define GRIDTREE_DCHECK_EQ(a, b) GRIDTREE_DCHECK_OP_(a, ==, b)
#define GRIDTREE_DCHECK_NE(a, b) GRIDTREE_DCHECK_OP_(a, !=, b)
#define GRIDTREE_DCHECK_GE(a, b) GRIDTREE_DCHECK_OP_(a, >=, b)
