#include "state/publisher.h"

#include <vector>

#include "state/view_access.h"

namespace gridtree::internal {

void Publisher::Publish(std::shared_ptr<const View> view) {
  std::lock_guard lock(current_mu_);
  view = WithObjectsLocked(std::move(view));
  current_.swap(view);
}  // the old view, if this held the last reference, is freed after the unlock

std::shared_ptr<const View> Publisher::WithObjects(std::shared_ptr<const View> view) const {
  std::lock_guard lock(current_mu_);
  return WithObjectsLocked(std::move(view));
}

std::shared_ptr<const View> Publisher::WithObjectsLocked(std::shared_ptr<const View> view) const {
  const uint64_t newest = object_counts_ ? object_counts_->version : 0;
  if (!object_counts_ || view->objects_version() == newest) return view;
  return ViewAccess::Make(ViewAccess::topology(*view), ViewAccess::metrics(*view), object_counts_);
}

std::shared_ptr<const View> Publisher::PublishObjectCounts(const View& view,
                                                           std::shared_ptr<const ObjectCounts> counts) {
  std::lock_guard lock(current_mu_);
  object_counts_ = counts;
  current_ = WithObjectsLocked(current_);
  if (current_->dataset_version() == view.dataset_version()) return current_;
  // A reload came meanwhile: the change belongs to the old dataset (its
  // leaves are numbers of it), and the tracker moves it over next.
  return ViewAccess::Make(ViewAccess::topology(view), ViewAccess::metrics(view), std::move(counts));
}

int Publisher::AddListener(Engine::Listener listener) {
  std::lock_guard lock(listeners_mu_);
  const int id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void Publisher::RemoveListener(int id) {
  std::lock_guard lock(listeners_mu_);
  listeners_.erase(id);
}

void Publisher::Notify(const std::shared_ptr<const View>& view, std::span<const LeafId> leaves) const {
  std::vector<Engine::Listener> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    for (auto& [id, l] : listeners_) listeners.push_back(l);
  }
  for (auto& l : listeners) l(view, leaves);
}

}  // namespace gridtree::internal
