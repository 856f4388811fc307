import assert from "node:assert/strict";
import { findAdoption } from "../../src/domain/datadir_adoption.ts";
import type { MountEntry } from "../../src/adapters/mount_table.ts";

const mounts: MountEntry[] = [
  { source: "tank", target: "/tank", fstype: "zfs" },
  { source: "tank/pg15", target: "/srv/pg15", fstype: "fuse.zfs" },
  { source: "tank/data", target: "/var/lib/zvpg/data", fstype: "zfs" },
  { source: "other/pg", target: "/srv/other", fstype: "zfs" },
  { source: "/dev/vda", target: "/srv/ext4", fstype: "ext4" },
];
const owned = (d: string) => d === "tank/data";

Deno.test("findAdoption: a data directory that is a dataset's mountpoint is taken over whole", () => {
  assert.deepEqual(findAdoption("/srv/pg15", "tank", mounts, owned), {
    dataset: "tank/pg15",
    mountpoint: "/srv/pg15",
    subdir: null,
  });
});

Deno.test("findAdoption: a data directory at a dataset's root is taken over with its name", () => {
  assert.deepEqual(findAdoption("/srv/pg15/main", "tank", mounts, owned), {
    dataset: "tank/pg15",
    mountpoint: "/srv/pg15",
    subdir: "main",
  });
});

Deno.test("findAdoption: deeper directories, other pools, the pool's root, zvpg's own datasets and other file systems are copied", () => {
  assert.equal(findAdoption("/srv/pg15/a/main", "tank", mounts, owned), undefined);
  assert.equal(findAdoption("/srv/other/main", "tank", mounts, owned), undefined);
  assert.equal(findAdoption("/tank/main", "tank", mounts, owned), undefined);
  assert.equal(findAdoption("/var/lib/zvpg/data/pgdata", "tank", mounts, owned), undefined);
  assert.equal(findAdoption("/srv/ext4/main", "tank", mounts, owned), undefined);
  // a pool whose name is a prefix of another's is not that pool
  assert.equal(findAdoption("/srv/pg15", "tan", mounts, owned), undefined);
});
