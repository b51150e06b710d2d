# gridtree RPC schema (Cap'n Proto, RPC level 1). See docs/rpc.md.
#
# Compatibility rule: fields and methods are only ever appended, never
# renumbered, retyped or removed. 64-bit counts stay Int64/UInt64.
@0xb90b23ea2a679583;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("gridtree::proto");

enum Level {
  city @0;
  county @1;
  town @2;
  community @3;
  grid @4;
  microGrid @5;
}

struct Bounds {
  west @0 :Float64;
  south @1 :Float64;
  east @2 :Float64;
  north @3 :Float64;
}

struct Point {
  lon @0 :Float64;
  lat @1 :Float64;
}

# A node named the way clients see it. `number` is the node's position in
# the dataset (depth-first pre-order); it changes when a dataset is reloaded,
# ids do not.
struct NodeRef {
  id @0 :Text;
  name @1 :Text;
  level @2 :Level;
  number @3 :Int32;
}

struct NodeInfo {
  node @0 :NodeRef;
  kind @1 :Text;           # "" when the dataset gives none
  parent @2 :Text;         # "" for a root
  childCount @3 :UInt32;
  leaf @4 :Int32;          # leaf number, -1 for an inner node
  areaKm2 @5 :Float64;
  bounds @6 :Bounds;
  metrics @7 :List(Int64); # aggregated values, in Info.metricNames order
  version @8 :UInt64;      # metric version the values were read at
  datasetVersion @9 :UInt64; # dataset version (node numbers and leaf belong to it)
}

struct Aggregate {
  node @0 :NodeRef;
  values @1 :List(Int64);  # in Info.metricNames order
}

struct LocateResult {
  found @0 :Bool;
  leaf @1 :Int32;          # leaf number, -1 on a miss
  snapped @2 :Bool;        # outside every leaf, moved to the nearest within maxDistanceM
  distanceM @3 :Float64;
  chain @4 :List(NodeRef); # root first, the leaf last; empty on a miss
  version @5 :UInt64;
  datasetVersion @6 :UInt64;
}

struct LocateBatchResult {
  leaves @0 :List(Int32);  # leaf number per point, -1 for a miss
  # Only when withChains: for point i and level l, chainIndex[i * 6 + l] is
  # an index into chainNodes, or -1 when the chain has no node of that level.
  chainIndex @1 :List(Int32);
  chainNodes @2 :List(NodeRef);
  version @3 :UInt64;
  datasetVersion @4 :UInt64;
}

struct Circle {
  lon @0 :Float64;
  lat @1 :Float64;
  radiusM @2 :Float64;
}

struct Ring {
  points @0 :List(Point);  # closed implicitly or explicitly; either orientation
}

struct PolygonPart {
  rings @0 :List(Ring);    # rings[0] outer, the rest holes
}

struct Region {
  union {
    box @0 :Bounds;
    circle @1 :Circle;
    polygon @2 :List(PolygonPart);
    wkt @3 :Text;          # POLYGON / MULTIPOLYGON
    geoJson @4 :Text;      # Polygon / MultiPolygon geometry or a Feature
  }
}

enum RegionMode {
  intersecting @0;         # the default
  contained @1;
  areaWeighted @2;
}

struct RegionQuery {
  region @0 :Region;
  mode @1 :RegionMode;
  groupBy :union {
    none @2 :Void;
    level @3 :Level;
  }
}

struct RegionRow {
  node @0 :NodeRef;
  values @1 :List(Float64); # per metric: counts as doubles, or area-weighted shares
  counts @2 :List(Int64);   # per metric, exact; empty in areaWeighted mode
}

struct RegionResult {
  total @0 :List(Float64); # per metric, in Info.metricNames order (counts as doubles, or area-weighted sums)
  rows @1 :List(RegionRow);
  leaves @2 :Int64;
  version @3 :UInt64;
  datasetVersion @4 :UInt64;
  counts @5 :List(Int64);  # per metric, exact; empty in areaWeighted mode
}

struct TopKQuery {
  level @0 :Level;
  metric @1 :Text;         # a metric name
  k @2 :UInt32 = 10;
  within @3 :Text;         # a node id; "" for the whole dataset
  density @4 :Bool;        # rank by metric per km²
}

struct TopEntry {
  node @0 :NodeRef;
  value @1 :Float64;       # what the entry is ranked by: density (metric per km²) or the metric
  count @2 :Int64;         # the metric, exact
}

struct Limits {
  maxMessageBytes @0 :UInt64;
  maxPointsPerBatch @1 :UInt32;
  maxCallsInFlightPerConnection @2 :UInt32;
  maxQueuedWork @3 :UInt32;
  maxWatchIds @4 :UInt32;          # ids per watch
  maxUpdatesPerBatch @5 :UInt32;   # updates per Writer.apply
  maxAggregateIds @6 :UInt32;      # ids per aggregate
  maxTopK @7 :UInt32;              # k of topK
  maxConnections @8 :UInt32;       # RPC and HTTP connections together
  maxReportsPerBatch @9 :UInt32;   # position reports per Writer.track, objects per objects answer
  maxWatchesPerConnection @10 :UInt32;  # watch and events subscriptions per connection
}

struct Info {
  datasetVersion @0 :UInt64;
  version @1 :UInt64;           # metric version: applied update batches
  source @2 :Text;
  fingerprint @3 :UInt64;
  countsPerLevel @4 :List(Int64); # indexed by Level
  nodes @5 :Int64;
  leaves @6 :Int64;
  metricNames @7 :List(Text);
  bounds @8 :Bounds;
  limits @9 :Limits;
  writable @10 :Bool;           # a writer token is configured
  objectsVersion @11 :UInt64;   # batches of position reports (and expiries) since the server started
  # Cluster mode (docs/cluster.md); all zero / false / "" on a single server.
  position @12 :UInt64;         # last position of the replicated log applied here
  lag @13 :UInt64;              # positions in the log not yet applied, as last seen
  digest @14 :UInt64;           # of the replicated state at digestPosition: equal on replicas at one position
  digestPosition @15 :UInt64;
  ready @16 :Bool;              # caught up with the log's end as it was when this replica started
  replication @17 :Text;        # e.g. "jetstream stream gridtree on nats://..."
  skippedMessages @18 :UInt64;  # log entries that were not gridtree writes, skipped by every replica
}

struct MetricUpdate {
  leaf @0 :Text;           # leaf id
  metric @1 :Text;
  op @2 :Op;
  value @3 :Int64;
  enum Op {
    set @0;
    add @1;
  }
}

# ---- Tracked objects (docs/objects.md) ----

struct ObjectReport {
  id @0 :Text;             # non-empty, at most 128 bytes
  kind @1 :Text;           # "boat", "staff", ...: non-empty, at most 32 bytes
  lon @2 :Float64;
  lat @3 :Float64;
  time @4 :Int64;          # unix seconds; 0: when the batch arrives
}

struct TrackedObject {
  id @0 :Text;
  kind @1 :Text;
  lon @2 :Float64;
  lat @3 :Float64;
  time @4 :Int64;
  leaf @5 :Text;           # the leaf's id, "" when outside every leaf
  distanceM @6 :Float64;   # nearest: metres from the query point
}

struct ObjectQuery {
  where :union {
    all @0 :Void;
    node @1 :Text;         # a node id: its whole subtree
    box @2 :Bounds;
    circle @3 :Circle;
  }
  kind @4 :Text;           # "" for every kind
  offset @5 :UInt32;
  limit @6 :UInt32 = 1000;
}

struct ObjectEvent {
  type @0 :Type;
  enum Type {
    enter @0;
    exit @1;
  }
  objectId @1 :Text;
  kind @2 :Text;
  node @3 :Text;           # the node entered or left
  level @4 :Level;
  expired @5 :Bool;        # an exit because the object was not heard from in time
  time @6 :Int64;
  lon @7 :Float64;
  lat @8 :Float64;
}

struct KindCount {
  kind @0 :Text;
  total @1 :Int64;         # tracked objects of the kind
  outside @2 :Int64;       # of them, in no leaf
}

# Receives enter/exit events (implemented by the client).
interface EventSink {
  push @0 (events :List(ObjectEvent)) -> ();
}

# Receives pushes for a subscription (implemented by the client).
interface Watcher {
  # The watched nodes whose aggregates changed with the batch that made
  # `version`.
  push @0 (version :UInt64, nodes :List(Aggregate), datasetVersion :UInt64) -> ();
}

# Dropping the last reference unsubscribes.
interface WatchHandle {
  cancel @0 () -> ();
}

interface Writer {
  # position: where the write stands in the replicated log (0 on a single
  # server); read it back anywhere with GridTree.atPosition.
  apply @0 (updates :List(MetricUpdate)) -> (version :UInt64, position :UInt64);
  checkpoint @1 () -> ();
  reload @2 (path :Text) -> (datasetVersion :UInt64, nodes :Int64, leaves :Int64);
  # Position reports: refused whole, naming the first bad one, or applied whole.
  track @3 (reports :List(ObjectReport)) -> (reports :UInt64, outside :UInt64, moved :UInt64, objectsVersion :UInt64, position :UInt64);
}

# The bootstrap capability: every read query, plus the doors to writes and
# subscriptions.
interface GridTree {
  info @0 () -> (info :Info);
  locate @1 (lon :Float64, lat :Float64, maxDistanceM :Float64) -> (result :LocateResult);
  locateBatch @2 (lon :List(Float64), lat :List(Float64), withChains :Bool) -> (result :LocateBatchResult);
  node @3 (id :Text) -> (node :NodeInfo);
  children @4 (id :Text) -> (children :List(NodeRef), datasetVersion :UInt64);
  path @5 (id :Text) -> (chain :List(NodeRef), datasetVersion :UInt64);
  aggregate @6 (ids :List(Text)) -> (aggregates :List(Aggregate), version :UInt64, datasetVersion :UInt64);
  regionAggregate @7 (query :RegionQuery) -> (result :RegionResult);
  topK @8 (query :TopKQuery) -> (entries :List(TopEntry), version :UInt64, datasetVersion :UInt64);
  writer @9 (token :Text) -> (writer :Writer);
  watch @10 (ids :List(Text), callback :Watcher) -> (handle :WatchHandle);
  objects @11 (query :ObjectQuery) -> (objects :List(TrackedObject), total :UInt64, objectsVersion :UInt64);
  nearest @12 (lon :Float64, lat :Float64, k :UInt32, kind :Text) -> (objects :List(TrackedObject));
  objectKinds @13 () -> (kinds :List(KindCount), objectsVersion :UInt64);
  # Enter/exit events of the chosen nodes (any when empty), levels and
  # kinds; dropping the handle unsubscribes.
  events @14 (nodes :List(Text), levels :List(Level), kinds :List(Text), sink :EventSink) -> (handle :WatchHandle);
  # Read your writes in a cluster: this capability once the replica has
  # applied the log up to `position` (pipeline calls on it: one round
  # trip); past timeoutMs (0: 5000) the call fails with "lagging: ...".
  atPosition @15 (position :UInt64, timeoutMs :UInt32) -> (gridtree :GridTree);
}
