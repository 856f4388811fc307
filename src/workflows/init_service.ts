/**
 * `zvpg init env` (create what is missing, and nothing else), `zvpg init check`, and
 * `zvpg clone` (a new environment whose main is a copy of a remote's snapshot).
 *
 * @module
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseSize } from "../config/schema.ts";
import { RemoteExistsError, StateError, ZvpgError } from "../errors.ts";
import {
  ensurePrivateDir,
  ensurePrivateFile,
  PRIVATE_DIR,
  writePrivateFile,
} from "../runtime/private_fs.ts";
import type { Check } from "../domain/check.ts";
import { check, defaultBranchCheck, environmentChecks } from "../ops/environment_checks.ts";
import { log } from "../runtime/log.ts";
import { execSql, importContainers } from "../ops/branch_container.ts";
import { startAndWait } from "../ops/start_on_port.ts";
import type { Context } from "../context.ts";
import { INDEX_PROPS, PROPS } from "../domain/layout.ts";
import { loadInventory } from "../ops/store/load_inventory.ts";
import { record } from "../ops/store/record.ts";
import { ensureMounted } from "../ops/mounts.ts";
import { withLock } from "../runtime/lock.ts";
import { rolledBack, shielded, throwIfInterrupted } from "../runtime/interrupt.ts";
import { operationAlive } from "../ops/operation_alive.ts";
import { markStopped } from "../domain/lifecycle.ts";
import type { ImportRequest } from "../ops/import/plan.ts";
import { ImportSession } from "../ops/import/session.ts";
import { withMaskJob } from "../ops/import/plan.ts";
import { snapshotImport } from "../ops/import/snapshot_import.ts";
import { generatePassword, setPoolPassword } from "../ops/credentials.ts";
import { validateRemoteName } from "../domain/names.ts";
import type { Remote, RemoteUrl } from "../domain/remote.ts";
import { loadRemotes, updateRemotes } from "../ops/remote_store.ts";
import { findCloneSource, receiveCloneSource } from "../ops/clone_source.ts";
import { loadClaims, rebuildIndex } from "../ops/store/claims_index.ts";
import { removeBranchContainers } from "../ops/create_branch.ts";
import { emptyDataDirectory, imagePostgresUser, initdb } from "../ops/cluster_init.ts";
import { findAdoption } from "../domain/datadir_adoption.ts";
import { faultPoint } from "../runtime/fault.ts";
import {
  adoptDataset,
  type AdoptedDataset,
  findTakeOvers,
  finishAdoption,
  undoTakeOver,
} from "../ops/datadir_adoption.ts";

/** One thing `init env` did or found done. */
export interface InitStep {
  step: string;
  changed: boolean;
  detail: string;
}

/**
 * What one `init env` made, recorded as each thing is made: what a failed `--from` removes,
 * never anything that was there before it.
 */
interface Made {
  /** The pool it created or imported. */
  pool?: string;
  /** The datasets it created, in the order it created them. */
  datasets: string[];
  /** The config files it wrote. */
  files: string[];
  /** The user's dataset it took over: given back as it was, never deleted. */
  adopted?: AdoptedDataset;
  /** The remote a clone registered (its entry in the remotes file). */
  remote?: string;
  /** The directories it created (removed when empty again). */
  dirs: string[];
}

/** What `zvpg clone` is asked for. */
export interface CloneRequest {
  url: RemoteUrl;
  /** The name the remote is registered under (git's `-o`; `origin` by default). */
  origin: string;
  /** The remote's snapshot to copy (of any branch); else the newest of its main. */
  snapshot?: string;
}

/** What a clone made. */
export interface CloneResult {
  /** The name the remote was registered under. */
  remote: string;
  url: string;
  /** The snapshot main is a copy of, listed as main's. */
  snapshot: string;
  /** The remote's branch it was taken on. */
  branch: string;
  /** Its ZFS GUID, the remote's. */
  guid: string;
  /** The snapshots received, oldest first (a file remote's chain; the last is `snapshot`). */
  snapshots: string[];
  /** The bytes of the streams received. */
  bytes: number;
  /** The port main runs on. */
  port: number;
  /** What was made, as `init env` tells it. */
  steps: InitStep[];
  /** How long the clone took, in milliseconds. */
  durationMs: number;
}

/** One `init env`: its steps, told as they happen, and the journal of what it made. */
class InitRun {
  readonly steps: InitStep[] = [];
  readonly made: Made = { datasets: [], files: [], dirs: [] };

  /** Tells one step: whether it changed anything, and what it did or found. */
  step(step: string, changed: boolean, detail: string): void {
    this.steps.push({ step, changed, detail });
    log.info(`${changed ? "✔ created" : "· exists "} ${step}: ${detail}`);
  }
}

const TEMPLATE_DIR = new URL("../../templates/", import.meta.url);

/** Reads a bundled template file. */
export function readTemplate(name: string): string {
  return readFileSync(new URL(name, TEMPLATE_DIR), "utf8");
}

/** Environment set-up and checks. */
export class InitService {
  constructor(private readonly ctx: Context) {}

  /**
   * Creates whatever is missing; returns every step and whether it changed anything. With
   * `from`, main's data is imported from that source (see {@link envFrom}).
   */
  async env(options: { from?: ImportRequest } = {}): Promise<InitStep[]> {
    const run = new InitRun();
    // a rules file that cannot be used stops the run before anything is read or made
    const from = options.from && await withMaskJob(options.from);
    await this.ensureZfs();
    await this.refuseInterruptedTakeOver();
    await this.ensureImage(run);
    if (from) return await this.envFrom(from, run);
    await this.ensurePool(run);
    ensurePrivateDir(this.ctx.config.mountDir);
    return await withLock(this.ctx.layout, async () => {
      await this.ensureDatasets(run);
      this.ensureConfigFiles(run);
      const initialised = await this.ensureDataDirectory(run);
      await this.ensureDefaultRunning(run, initialised);
      return run.steps;
    });
  }

  /**
   * `init env --from`: the preflight first (nothing is made when it fails), then the
   * environment, then main's data loaded from the source instead of an empty initdb, main
   * started and snapshotted as `import-<time>`. A failure removes everything this run made
   * (the pool and files it created, or main's data, datasets and container).
   */
  private async envFrom(request: ImportRequest, run: InitRun): Promise<InitStep[]> {
    const { layout, config, zfs } = this.ctx;
    const main = config.branchDefault;
    const pgdata = layout.pgdata(main);
    const refuseExisting = () => {
      if (existsSync(join(pgdata, "PG_VERSION"))) {
        throw new StateError(`branch '${main}' already holds data`, {
          hint: "run 'zvpg refresh --from <source>' to replace it with a new copy",
        });
      }
    };
    refuseExisting();
    const owner = await imagePostgresUser(this.ctx);
    return await ImportSession.run(this.ctx, request, owner, async (session) => {
      const poolExisted = (await zfs.poolStatus(layout.pool)) !== undefined;
      const { made } = run;
      try {
        session.phase("pool, datasets and config files");
        await this.ensurePool(run);
        ensurePrivateDir(config.mountDir);
        await withLock(layout, async () => {
          made.adopted = await this.takeOver(session, poolExisted, owner, (a) => made.adopted = a);
          if (made.adopted) {
            faultPoint("import.after-adopt");
            run.step(
              "adopt",
              true,
              `${made.adopted.dataset} taken over as ${layout.dataDataset} (no copy)`,
            );
            session.loadInPlace();
          }
          await this.ensureDatasets(run);
          this.ensureConfigFiles(run);
          if (!made.adopted) refuseExisting();
          emptyDataDirectory(pgdata, owner);
          await session.load(
            pgdata,
            layout.dataMount,
            () => initdb(this.ctx, pgdata, owner, { sync: false }),
          );
          faultPoint("import.after-load");
          run.step(
            "import",
            true,
            `loaded ${session.plan.description}${
              session.plan.mask ? `, masked by ${session.plan.mask.file}` : ""
            }`,
          );
          session.phase("starting main");
          await this.ensureDefaultRunning(run, false);
          faultPoint("import.after-start");
          session.phase("snapshot");
          const snapshot = await snapshotImport(this.ctx, session.plan);
          faultPoint("import.after-snapshot");
          run.step("snapshot", true, `${snapshot} of ${session.plan.description}`);
          if (made.adopted) {
            // the last check before the point of no return (a signal received is seen once
            // the event loop turns): the snapshot's end is not stopped half-way
            await new Promise((resolve) => setTimeout(resolve, 0));
            throwIfInterrupted();
            await shielded(() => finishAdoption(this.ctx));
          }
          session.phase("done");
        });
        return run.steps;
      } catch (error) {
        await shielded(() => this.undoImport(made, poolExisted)).catch((undo) =>
          log.warn(`could not remove everything the import made: ${(undo as Error).message}`)
        );
        throw rolledBack(error);
      }
    });
  }

  /**
   * `zvpg clone`: a new environment (pool, datasets, config files, the remote registered
   * as `request.origin`) whose main is a whole copy of a remote's snapshot, received into
   * the data dataset (see src/ops/clone_source.ts), then started with this pool's password
   * on zvpg's user (the sender's other roles keep theirs). Refused, with nothing changed,
   * when this pool holds an environment already or the remote's name is taken. What the
   * remote holds is read before anything is made; a failure or Ctrl-C afterwards removes
   * everything this run made.
   */
  async clone(request: CloneRequest): Promise<CloneResult> {
    const started = this.ctx.now().getTime();
    const { layout, config, zfs } = this.ctx;
    const main = config.branchDefault;
    validateRemoteName(request.origin);
    const remote: Remote = { name: request.origin, url: request.url };
    const run = new InitRun();
    await this.ensureZfs();
    await this.refuseInitialised();
    refuseRemoteTaken(loadRemotes(this.ctx), remote.name);
    await this.refuseInterruptedTakeOver();
    await this.ensureImage(run);
    const source = await findCloneSource(this.ctx, remote, main, request.snapshot);
    const target = source.target;
    const poolExisted = (await zfs.poolStatus(layout.pool)) !== undefined;
    const { made } = run;
    try {
      // the pool's file goes in the mount directory: noted before the pool is made
      noteNewDir(config.mountDir, made);
      await this.ensurePool(run);
      ensurePrivateDir(config.mountDir);
      return await withLock(layout, async () => {
        noteNewDir(config.configDir, made);
        this.ensureConfigFiles(run);
        noteNewDir(dirname(layout.remotesLockFile), made);
        await this.registerRemote(remote, run);
        // recorded first: a receive stopped by a signal may or may not have made it
        made.datasets.push(layout.dataDataset);
        const received = await receiveCloneSource(this.ctx, source, layout.dataDataset, main);
        faultPoint("clone.after-receive");
        throwIfInterrupted();
        const [dataset, mountpoint, props] = this.zvpgDatasets()[0];
        await zfs.set(dataset, { mountpoint, ...props });
        const guid = await zfs.guid(`${dataset}@${target.name}`);
        if (guid !== target.guid) {
          throw new ZvpgError(
            `${dataset}@${target.name} has GUID ${guid ?? "none"}, not the remote's ${target.guid}`,
            { hint: "check the remote's snapshot, then clone again" },
          );
        }
        run.step(
          "data",
          true,
          `snapshot '${target.name}' of '${remote.name}' received into ${dataset} (${received.bytes} bytes)`,
        );
        await this.ensureDatasets(run);
        await this.completeIndex();
        throwIfInterrupted();
        const { container, port } = await this.ensureDefaultRunning(run, false);
        await setPoolPassword(
          this.ctx,
          main,
          container,
          `snapshot '${target.name}' of remote '${remote.name}'`,
        );
        run.step("password", true, `this pool's password set on '${config.postgresUser}'`);
        faultPoint("clone.after-start");
        throwIfInterrupted();
        return {
          remote: remote.name,
          url: remote.url.href,
          snapshot: target.name,
          branch: target.branch,
          guid,
          snapshots: received.snapshots.map((s) => s.name),
          bytes: received.bytes,
          port,
          steps: run.steps,
          durationMs: this.ctx.now().getTime() - started,
        };
      });
    } catch (error) {
      await shielded(() => this.undoClone(made, poolExisted)).catch((undo) =>
        log.warn(`could not remove everything the clone made: ${(undo as Error).message}`)
      );
      throw rolledBack(error);
    }
  }

  /** Refuses to clone into a pool that holds a zvpg environment already. */
  private async refuseInitialised(): Promise<void> {
    const { layout } = this.ctx;
    if (!(await this.ctx.zfs.exists(layout.dataDataset))) return;
    throw new StateError(
      `pool '${layout.pool}' holds a zvpg environment already (${layout.dataDataset})`,
      {
        hint:
          "clone into a new one: give 'zvpg -c <file>' a config naming another zfsPool and mountDir",
      },
    );
  }

  /** Adds `remote` to the remotes file, recording what it made. */
  private async registerRemote(remote: Remote, run: InitRun): Promise<void> {
    const file = this.ctx.layout.remotesFile;
    const existed = existsSync(file);
    await updateRemotes(this.ctx, (remotes) => {
      refuseRemoteTaken(remotes, remote.name);
      return { remotes: [...remotes, remote], result: undefined };
    });
    if (existed) run.made.remote = remote.name;
    else run.made.files.push(file);
    run.step("remote", true, `${remote.name} = ${remote.url.href}`);
  }

  /**
   * Makes the claims index hold the names of main's received snapshots and marks it
   * complete (what `init env` does for a new, empty main).
   */
  private async completeIndex(): Promise<void> {
    const index = await loadClaims(this.ctx);
    if (!index) throw new Error("completeIndex: the index dataset is missing");
    await rebuildIndex(this.ctx, await loadInventory(this.ctx, { containers: false }), index);
  }

  /** Removes what a failed `clone` made, as its journal `made` lists it. */
  private async undoClone(made: Made, poolExisted: boolean): Promise<void> {
    const { layout, config, zfs } = this.ctx;
    await removeBranchContainers(this.ctx, config.branchDefault);
    if (!poolExisted && made.pool !== undefined) {
      await zfs.destroyPool(layout.pool);
      if (!config.zfsPoolDevice) rmSync(layout.poolImage, { force: true });
    } else {
      for (const dataset of [...made.datasets].reverse()) {
        if (await zfs.exists(dataset)) await zfs.destroy(dataset, { recursive: true });
      }
    }
    if (made.remote !== undefined) {
      const name = made.remote;
      await updateRemotes(this.ctx, (remotes) => ({
        remotes: remotes.filter((r) => r.name !== name),
        result: undefined,
      }));
    }
    for (const file of made.files) rmSync(file, { force: true });
    for (const dir of [...made.dirs].reverse()) {
      removeEmptyTree(dir, [layout.lockFile, layout.remotesLockFile]);
    }
  }

  /**
   * Takes the data directory's dataset over (zero-copy) when it is in zvpg's pool and the
   * data dataset does not exist yet; undefined when the source is copied instead.
   */
  private async takeOver(
    session: ImportSession,
    poolExisted: boolean,
    owner: { uid: number; gid: number },
    started: (adopted: AdoptedDataset) => void,
  ): Promise<AdoptedDataset | undefined> {
    const { layout } = this.ctx;
    const source = session.plan.source;
    // a masked import never takes the real data over: it is copied into scratch space
    if (source.kind !== "datadir" || !poolExisted || session.plan.mask) return undefined;
    const found = findAdoption(
      source.path,
      layout.pool,
      this.ctx.mounts.entries(),
      (d) => layout.inTree(d) || d === layout.clonesDataset || d === layout.socketsDataset,
    );
    if (!found) return undefined;
    // what the import goes on to make: a give-back removes it (the data dataset is the one)
    const made = {
      datasets: [] as string[],
      files: this.configFiles().map(([path]) => path).filter((path) => !existsSync(path)),
    };
    for (const [dataset] of this.zvpgDatasets().slice(1)) {
      if (!(await this.ctx.zfs.exists(dataset))) made.datasets.push(dataset);
    }
    return await adoptDataset(this.ctx, found, owner, made, started);
  }

  /**
   * Refuses to set up while a take-over of a user's dataset is recorded in the pool (see
   * src/ops/datadir_adoption.ts): its zvpg was killed, and `status health --repair` gives
   * the dataset back first (or that zvpg is at it still).
   */
  private async refuseInterruptedTakeOver(): Promise<void> {
    const [found] = await findTakeOvers(this.ctx);
    if (!found) return;
    const dataset = found.adopted?.dataset ?? found.snapshot.split("@")[0];
    if (operationAlive(found.pid)) {
      throw new StateError(`zvpg (pid ${found.pid}) is taking ${dataset} over now`, {
        hint: "wait for it to end",
      });
    }
    throw new StateError(`an interrupted take-over of ${dataset} was never given back`, {
      hint: "run 'zvpg status health --repair' to give it back as it was, then run this again",
    });
  }

  /** Removes what a failed `init env --from` made, as its journal `made` lists it. */
  private async undoImport(made: Made, poolExisted: boolean): Promise<void> {
    const { layout, config, zfs, runtime } = this.ctx;
    const main = config.branchDefault;
    // the user's dataset: given back as it was, with what the import made, never deleted
    if (made.adopted) return await undoTakeOver(this.ctx, made.adopted);
    for (const c of await importContainers(this.ctx).catch(() => [])) {
      await runtime.remove(c.name);
    }
    if (!poolExisted && made.pool !== undefined) {
      await zfs.destroyPool(layout.pool);
      if (!config.zfsPoolDevice) rmSync(layout.poolImage, { force: true });
    } else {
      const pgdata = layout.pgdata(main);
      if (existsSync(pgdata)) rmSync(pgdata, { recursive: true, force: true });
      for (const name of ["import-scratch", "import-sock"]) {
        rmSync(join(layout.dataMount, name), { recursive: true, force: true });
      }
      for (const dataset of [...made.datasets].reverse()) {
        await zfs.destroy(dataset, { recursive: true });
      }
      if (made.datasets.length === 0) await record(this.ctx, layout.dataDataset, markStopped());
    }
    for (const file of made.files) rmSync(file, { force: true });
  }

  private async ensureZfs(): Promise<void> {
    const zfs = await this.ctx.zfs.available();
    if (!zfs.ok) {
      throw new ZvpgError(`ZFS is not available: ${zfs.detail || "zpool list failed"}`, {
        hint: "load the zfs module (OpenZFS) or start the zfs-fuse daemon",
      });
    }
  }

  private async ensurePool(run: InitRun): Promise<void> {
    const { zfs, layout, config } = this.ctx;
    const pool = layout.pool;
    let status = await zfs.poolStatus(pool);
    if (!status) {
      const image = layout.poolImage;
      const searchDir = config.zfsPoolDevice ? dirname(config.zfsPoolDevice) : dirname(image);
      if ((config.zfsPoolDevice || existsSync(image)) && await zfs.importPool(pool, searchDir)) {
        run.made.pool = pool;
        run.step("pool", true, `imported ${pool} from ${searchDir}`);
      } else if (config.zfsPoolDevice) {
        await zfs.createPool(pool, [config.zfsPoolDevice]);
        run.made.pool = pool;
        run.step("pool", true, `created ${pool} on ${config.zfsPoolDevice}`);
      } else {
        if (existsSync(image)) {
          throw new ZvpgError(
            `pool '${pool}' is not imported and its file ${image} could not be imported`,
            { hint: `check 'zpool import -d ${dirname(image)}', or move the file away` },
          );
        }
        mkdirSync(dirname(image), { recursive: true });
        await createSparseFile(image, config.zfsPoolSize);
        try {
          await zfs.createPool(pool, [image]);
        } catch (error) {
          rmSync(image, { force: true });
          throw error;
        }
        run.made.pool = pool;
        run.step("pool", true, `created ${pool} on sparse file ${image} (${config.zfsPoolSize})`);
      }
      status = await zfs.poolStatus(pool);
    } else {
      run.step("pool", false, `${pool} is ${status.health}`);
    }
    if (!status || status.health !== "ONLINE") {
      throw new ZvpgError(`pool '${pool}' is ${status?.health ?? "missing"}`, {
        hint: `check 'zpool status ${pool}'`,
      });
    }
  }

  /** zvpg's datasets, their mountpoints and the properties they are made with: data first. */
  private zvpgDatasets(): [string, string, Record<string, string>][] {
    const { layout, config } = this.ctx;
    return [
      [layout.dataDataset, layout.dataMount, {
        atime: "off",
        [PROPS.branch]: config.branchDefault,
        [PROPS.state]: "stopped",
        [PROPS.created]: this.ctx.now().toISOString(),
      }],
      [layout.clonesDataset, layout.clonesMount, { atime: "off" }],
      [layout.socketsDataset, layout.socketsMount, { atime: "off" }],
    ];
  }

  private async ensureDatasets(run: InitRun): Promise<void> {
    const { zfs, layout, config } = this.ctx;
    const wanted = this.zvpgDatasets();
    let madeData = false;
    for (const [dataset, mountpoint, props] of wanted) {
      if (await zfs.exists(dataset)) {
        await ensureMounted(this.ctx, dataset, mountpoint);
        run.step("dataset", false, `${dataset}`);
        continue;
      }
      // made with the data dataset, the claims index is complete: there is nothing to claim
      // yet (else 'status health --repair' builds it from what exists)
      const index: Record<string, string> = dataset === layout.indexDataset && madeData
        ? { [INDEX_PROPS.complete]: "1" }
        : {};
      if (dataset === layout.dataDataset) madeData = true;
      await zfs.create(dataset, { mountpoint, ...props, ...index });
      run.made.datasets.push(dataset);
      run.step("dataset", true, `${dataset} at ${mountpoint}`);
    }
    // no other uid may reach a data directory, socket or config copy below these; runtime
    // directories an older version left open are closed too (a start recreates them)
    for (const [, mountpoint] of wanted) ensurePrivateDir(mountpoint);
    for (const entry of readdirSync(layout.socketsMount, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(layout.socketsMount, entry.name);
      chmodSync(dir, PRIVATE_DIR);
      for (const sub of ["sock", "conf"]) {
        if (existsSync(join(dir, sub))) chmodSync(join(dir, sub), PRIVATE_DIR);
      }
    }
    const inventory = await loadInventory(this.ctx, { containers: false });
    if (!inventory.initialized) {
      throw new ZvpgError(
        `dataset ${layout.dataDataset} exists but is not a zvpg branch (no ${PROPS.branch} property)`,
        {
          hint:
            `if it is zvpg's, run 'zfs set ${PROPS.branch}=${config.branchDefault} ${layout.dataDataset}'`,
        },
      );
    }
  }

  /** zvpg's config files and the default content of each. */
  private configFiles(): [string, () => string][] {
    const c = this.ctx.config;
    return [
      [c.configFile, () => readTemplate("config.json")],
      [c.pgConfPath, () => readTemplate("postgresql.conf")],
      [c.pgHbaPath, () => readTemplate("pg_hba.conf")],
      [c.pgIdentPath, () => readTemplate("pg_ident.conf")],
      [this.ctx.layout.passFile, () => `*:*:*:${c.postgresUser}:${generatePassword()}\n`],
    ];
  }

  private ensureConfigFiles(run: InitRun): void {
    const c = this.ctx.config;
    const files = this.configFiles();
    // zvpg's own config directory is private; a directory given with -c may be shared
    ensurePrivateDir(c.configDir, { fixExisting: c.configDirIsOwn });
    for (const [path, content] of files) {
      const ours = c.configDirIsOwn && dirname(path) === c.configDir;
      if (existsSync(path)) {
        if (ours || path === this.ctx.layout.passFile) ensurePrivateFile(path);
        run.step("file", false, path);
        continue;
      }
      ensurePrivateDir(dirname(path), { fixExisting: false });
      writePrivateFile(path, content());
      run.made.files.push(path);
      run.step("file", true, path);
    }
  }

  private async ensureImage(run: InitRun): Promise<void> {
    const { runtime, config } = this.ctx;
    try {
      await runtime.version();
    } catch (error) {
      throw new ZvpgError(
        `container runtime '${config.containerRuntime}' is not reachable: ${
          (error as Error).message
        }`,
        {
          hint:
            `start its engine (e.g. 'dockerd'), or set containerRuntime in ${config.configFile}`,
        },
      );
    }
    if (await runtime.imageExists(config.pgBaseImage)) {
      run.step("image", false, config.pgBaseImage);
      return;
    }
    log.info(`pulling image ${config.pgBaseImage}…`);
    try {
      await runtime.pullImage(config.pgBaseImage, 600_000);
    } catch (error) {
      throw new ZvpgError(
        `image '${config.pgBaseImage}' is not present and could not be pulled: ${
          (error as Error).message
        }`,
        {
          hint: "pull or build it (scripts/build_image.sh builds one offline), or set pgBaseImage",
        },
      );
    }
    run.step("image", true, `pulled ${config.pgBaseImage}`);
  }

  /**
   * Initialises the default branch's data directory with initdb inside the image.
   * Returns whether it did.
   */
  private async ensureDataDirectory(run: InitRun): Promise<boolean> {
    const { layout, config } = this.ctx;
    const pgdata = layout.pgdata(config.branchDefault);
    if (existsSync(join(pgdata, "PG_VERSION"))) {
      run.step("pgdata", false, pgdata);
      return false;
    }
    if (existsSync(pgdata) && readdirSync(pgdata).length > 0) {
      throw new ZvpgError(`${pgdata} is not empty and holds no PostgreSQL data directory`, {
        hint: "move its contents away; zvpg never overwrites data",
      });
    }
    const owner = await imagePostgresUser(this.ctx);
    await initdb(this.ctx, pgdata, owner);
    run.step("pgdata", true, `initialised ${pgdata} (owner uid ${owner.uid})`);
    return true;
  }

  /**
   * Starts the default branch; after a fresh initdb, creates `postgresDb` if it is not
   * `postgres`. Returns its container and port.
   */
  private async ensureDefaultRunning(
    run: InitRun,
    freshlyInitialised: boolean,
  ): Promise<{ container: string; port: number }> {
    const { config } = this.ctx;
    const inventory = await loadInventory(this.ctx);
    const main = inventory.branches.find((b) => b.isDefault)!;
    if (main.container?.state === "running") {
      run.step("container", false, `${main.container.name} running on port ${main.port}`);
      return { container: main.container.name, port: main.port! };
    }
    const { container, port } = await startAndWait(this.ctx, inventory, main);
    if (freshlyInitialised && config.postgresDb !== "postgres") {
      await execSql(
        { ...this.ctx, config: { ...config, postgresDb: "postgres" } },
        config.branchDefault,
        container,
        `CREATE DATABASE "${config.postgresDb}"`,
      );
    }
    run.step("container", true, `${container} running on port ${port}`);
    return { container, port };
  }

  /** Every check of `init check`: the environment, then the default branch. */
  async check(): Promise<Check[]> {
    const env = await environmentChecks(this.ctx);
    if (!env.datasetsOk || !env.runtimeOk) {
      return [
        ...env.checks,
        check("default-branch", "fail", "pool or runtime unavailable", "fix the checks above"),
      ];
    }
    return [...env.checks, await defaultBranchCheck(this.ctx, await loadInventory(this.ctx))];
  }
}

/** Records `dir` in `made` when it does not exist yet (the caller creates it). */
function noteNewDir(dir: string, made: Made): void {
  if (!existsSync(dir)) made.dirs.push(dir);
}

/**
 * Removes `dir` when nothing is left in it but empty directories and the `leftovers`
 * (lock files): never a file of anyone's.
 */
function removeEmptyTree(dir: string, leftovers: string[]): void {
  for (const file of leftovers) {
    if (file.startsWith(`${dir}/`)) rmSync(file, { force: true });
  }
  const prune = (d: string): boolean => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return false;
    }
    const empty = entries.every((e) => e.isDirectory && prune(join(d, e.name)));
    if (!empty) return false;
    try {
      Deno.removeSync(d);
      return true;
    } catch {
      return false;
    }
  };
  prune(dir);
}

/** Refuses a remote name that `remotes` holds already. */
function refuseRemoteTaken(remotes: readonly Remote[], name: string): void {
  const taken = remotes.find((r) => r.name === name);
  if (!taken) return;
  throw new RemoteExistsError(`remote '${name}' exists already (${taken.url.href})`, {
    hint: `name it otherwise with --origin, or run 'zvpg remote remove ${name}' first`,
  });
}

/** Creates a sparse file of `size` (e.g. `10G`). */
export async function createSparseFile(path: string, size: string): Promise<void> {
  const bytes = parseSize(size);
  const file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
  try {
    await file.truncate(bytes);
  } finally {
    file.close();
  }
}
