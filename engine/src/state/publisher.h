// Internal: the published View, and who is told of each new one.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <span>

#include "gridtree/engine/engine.h"
#include "state/object_counts.h"

namespace gridtree::internal {

// Readers take the current View here; writers publish a new one. Every
// published View carries the newest object counts, whichever path (metric
// writes or tracked objects) made it.
//
// Locks: current_mu_ guards the current View and the newest counts;
// listeners_mu_ guards the listeners. Both are innermost locks: nothing
// else is taken while one is held, and listeners are called with neither
// held. current_mu_ is held only for a pointer copy or swap, so a reader
// never waits behind a writer's work. (A mutex, not
// std::atomic<std::shared_ptr>: GCC 12's atomic shared_ptr unlocks with
// relaxed order after reading the pointer, which ThreadSanitizer rightly
// reports.)
class Publisher {
 public:
  std::shared_ptr<const View> Current() const {
    std::lock_guard lock(current_mu_);
    return current_;
  }
  // Makes view (with the newest object counts attached) the current one.
  void Publish(std::shared_ptr<const View> view);
  // The view with the newest object counts attached (what Publish makes of it).
  std::shared_ptr<const View> WithObjects(std::shared_ptr<const View> view) const;

  // The newest object counts (null before the first tracked object).
  std::shared_ptr<const ObjectCounts> object_counts() const {
    std::lock_guard lock(current_mu_);
    return object_counts_;
  }
  // Makes counts the newest and attaches them to the current View; returns
  // a View of `view`'s dataset carrying them (the current one, unless a
  // reload published another dataset meanwhile).
  std::shared_ptr<const View> PublishObjectCounts(const View& view, std::shared_ptr<const ObjectCounts> counts);

  int AddListener(Engine::Listener listener);
  void RemoveListener(int id);
  // Tells every listener about a new state. The leaves are numbers of that
  // state's own dataset: a listener always gets the view they belong to,
  // never a newer one a reload may have published meanwhile.
  void Notify(const std::shared_ptr<const View>& view, std::span<const LeafId> leaves) const;

 private:
  std::shared_ptr<const View> WithObjectsLocked(std::shared_ptr<const View> view) const;

  mutable std::mutex current_mu_;
  std::shared_ptr<const View> current_;
  std::shared_ptr<const ObjectCounts> object_counts_;

  mutable std::mutex listeners_mu_;
  std::map<int, Engine::Listener> listeners_;
  int next_listener_ = 1;
};

}  // namespace gridtree::internal
