//! The block store: blocks on disk by BLAKE3, pins, garbage collection.
//!
//! Layout under the store's directory:
//! - `blocks/a/abcdef…` — a chunk or a manifest, named by the BLAKE3 of its bytes (sharded
//!   over 16 directories by its first hex digit);
//! - `pins/<content id>` — the pin count of a file, as decimal text.
//!
//! Every write goes to a temporary file that is renamed into place. Block files are not synced
//! as they are written: full, aligned chunks go to the device with direct I/O (no page-cache
//! copy), other blocks through the page cache with their writeback started at once.
//! [`BlockStore::flush`] makes a file's blocks durable (data, sizes and names), and it runs
//! before an add returns, after a fetch, and before any pin is written — so a pinned file's
//! blocks are always on disk. A crash before the flush can lose or tear unpinned blocks; every
//! read re-hashes its block, so a torn block reads as corrupt, never as wrong data. Pin files
//! are synced individually.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::manifest::{ContentId, MAX_LABEL, Manifest};
use crate::{CHUNK_SIZE, FsError, Result};

/// Chunks read ahead of the writer threads while adding.
const WRITE_AHEAD: usize = 4;
/// Threads sealing, hashing and writing chunks while adding: hashing spreads over cores, and
/// since a direct write returns only once the device has the data, several writes in flight
/// keep the disk busy.
const WRITERS: usize = 3;
/// Chunk buffers one add uses at most (read ahead, being written, being filled): bounds its
/// memory to a few MiB whatever the file's size.
const BUFFERS: usize = WRITE_AHEAD + WRITERS + 1;
/// Threads syncing a file's blocks at once when it is flushed.
const FLUSH_THREADS: usize = 8;
/// Poly1305 tag appended to every sealed chunk.
const TAG_LEN: usize = 16;
/// Buffer address and length alignment that direct I/O needs (a page: covers every sector
/// size in use).
const DIRECT_ALIGN: usize = 4096;

#[cfg(target_os = "linux")]
thread_local! {
    /// Per thread, an aligned buffer for writing blocks that arrived unaligned.
    static ALIGNED: std::cell::RefCell<Option<ChunkBuffer>> = const { std::cell::RefCell::new(None) };
}

/// A reusable chunk buffer whose bytes start on a [`DIRECT_ALIGN`] boundary, so a full chunk
/// can be written to disk without passing through the page cache.
struct ChunkBuffer {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl ChunkBuffer {
    fn new() -> Self {
        let storage = vec![0u8; CHUNK_SIZE + TAG_LEN + DIRECT_ALIGN];
        // `align_offset` may decline (usize::MAX): the buffer is then merely unaligned and
        // its blocks take the buffered path.
        let start = match storage.as_ptr().align_offset(DIRECT_ALIGN) {
            offset if offset < DIRECT_ALIGN => offset,
            _ => 0,
        };
        Self {
            storage,
            start,
            len: 0,
        }
    }

    /// The first `len` bytes of room (up to a sealed chunk's length).
    fn space(&mut self, len: usize) -> &mut [u8] {
        &mut self.storage[self.start..self.start + len]
    }

    fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// Encrypts the chunk in place (chunk `index` of its file) and appends the tag.
    fn seal(&mut self, cipher: &ChaCha20Poly1305, index: usize) -> Result<()> {
        let len = self.len;
        let tag = cipher
            .encrypt_in_place_detached(&nonce(index), b"", self.space(len))
            .map_err(|_| FsError::Input(std::io::Error::other("encryption failed")))?;
        self.space(len + TAG_LEN)[len..].copy_from_slice(&tag);
        self.len = len + TAG_LEN;
        Ok(())
    }
}

/// Hex digits of a block's name that pick its directory: 16 directories. Few, because an add
/// syncs every directory its blocks went to (a 1 GiB file touches all 16, not 256); ext4, XFS
/// and btrfs index large directories, so 16 stay fast into the millions of blocks.
const SHARD_DIGITS: usize = 1;

/// A file's encryption key.
pub type FileKey = [u8; 32];

/// How [`BlockStore::add`] stores a file.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// File name for the manifest (at most [`MAX_LABEL`] bytes).
    pub name: Option<String>,
    /// Media type for the manifest (at most [`MAX_LABEL`] bytes).
    pub media_type: Option<String>,
    /// Pin the file (the default for files added by a user).
    pub pin: bool,
    /// Encrypt with this key (see [`BlockStore::new_key`]).
    pub key: Option<FileKey>,
}

fn nonce(index: usize) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&(index as u64).to_be_bytes());
    Nonce::from(n)
}

/// What the store knows of a file, from its manifest and pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The file's id.
    pub id: ContentId,
    /// File size in bytes (plaintext).
    pub size: u64,
    /// Chunks in the file.
    pub chunks: usize,
    /// Chunks present on this node.
    pub local_chunks: usize,
    /// File name from the manifest.
    pub name: Option<String>,
    /// Media type from the manifest.
    pub media_type: Option<String>,
    /// Pin count on this node (0: unpinned, removed at the next `gc`).
    pub pins: u32,
    /// Whether the chunks are encrypted.
    pub encrypted: bool,
}

/// What one [`BlockStore::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Block files deleted.
    pub removed_blocks: usize,
    /// Bytes those blocks took.
    pub freed_bytes: u64,
}

/// Blocks and pins in a directory on disk (see the module docs for the layout).
pub struct BlockStore {
    blocks: PathBuf,
    pins: PathBuf,
    /// Files (manifest digests) whose blocks this process has flushed: pinning them again
    /// needs no second flush.
    flushed: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
    /// Whether aligned blocks are written with direct I/O (cleared when the filesystem
    /// refuses it).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    direct_io: std::sync::atomic::AtomicBool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn hex(hash: &[u8; 32]) -> String {
    hex::encode(hash)
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FsError::Input(e)),
        }
    }
    Ok(filled)
}

impl BlockStore {
    /// Opens the store in `dir`, creating `blocks/` and `pins/` as needed and moving blocks
    /// left in the older two-digit shard layout.
    pub fn open(dir: &Path) -> Result<Self> {
        let blocks = dir.join("blocks");
        let pins = dir.join("pins");
        for d in [&blocks, &pins] {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        move_blocks_from_two_digit_shards(&blocks)?;
        Ok(Self {
            blocks,
            pins,
            flushed: Default::default(),
            direct_io: std::sync::atomic::AtomicBool::new(true),
        })
    }

    fn block_path(&self, hash: &[u8; 32]) -> PathBuf {
        let name = hex(hash);
        self.blocks.join(&name[..SHARD_DIGITS]).join(name)
    }

    /// Stores `bytes` as a block named by their hash (no-op if already present).
    pub fn put_block(&self, bytes: &[u8]) -> Result<[u8; 32]> {
        let hash = *blake3::hash(bytes).as_bytes();
        self.put_verified_block(&hash, bytes)?;
        Ok(hash)
    }

    /// Stores a block whose BLAKE3 the caller has just computed (no-op if already present).
    pub fn put_verified_block(&self, hash: &[u8; 32], bytes: &[u8]) -> Result<()> {
        let path = self.block_path(hash);
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.blocks);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        #[cfg(target_os = "linux")]
        if self.direct_io.load(std::sync::atomic::Ordering::Relaxed)
            && !bytes.is_empty()
            && bytes.len().is_multiple_of(DIRECT_ALIGN)
            && bytes.len() <= CHUNK_SIZE
        {
            let written = if bytes.as_ptr().addr().is_multiple_of(DIRECT_ALIGN) {
                write_direct(&path, bytes)?
            } else {
                // Blocks from the network sit wherever the allocator put them: one copy into
                // an aligned buffer still costs less than the page cache and its writeback.
                ALIGNED.with_borrow_mut(|buffer| {
                    let buffer = buffer.get_or_insert_with(ChunkBuffer::new);
                    buffer.space(bytes.len()).copy_from_slice(bytes);
                    buffer.len = bytes.len();
                    write_direct(&path, buffer.bytes())
                })?
            };
            if written {
                return Ok(());
            }
            // This filesystem refuses direct I/O: buffered writes from now on.
            self.direct_io
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        write_atomically(&path, bytes, !cfg!(target_os = "linux"))
    }

    /// Makes every block of file `id` durable (once per process and file).
    pub fn flush_file(&self, id: &ContentId, manifest: &Manifest) -> Result<()> {
        let mut flushed = self.flushed.lock().unwrap_or_else(|p| p.into_inner());
        if flushed.contains(&id.digest) {
            return Ok(());
        }
        let mut blocks = manifest.chunks.clone();
        blocks.push(id.digest);
        self.flush(&blocks)?;
        flushed.insert(id.digest);
        Ok(())
    }

    /// Makes the given blocks durable: each file's data and size (direct writes left only
    /// the size and allocation to commit; buffered ones had their writeback started, so this
    /// mostly waits) and the directory entries naming them.
    pub fn flush(&self, blocks: &[[u8; 32]]) -> Result<()> {
        let mut dirs: std::collections::BTreeSet<PathBuf> = blocks
            .iter()
            .filter_map(|hash| self.block_path(hash).parent().map(Path::to_owned))
            .collect();
        dirs.insert(self.blocks.clone());
        // Syncs issued together share the filesystem's journal commits and device cache
        // flushes; one after another, each pays for its own.
        let sync_blocks = |part: &[[u8; 32]]| -> Result<()> {
            for hash in part {
                let path = self.block_path(hash);
                let file = std::fs::File::open(&path).map_err(io(&path))?;
                file.sync_data().map_err(io(&path))?;
            }
            Ok(())
        };
        let per_thread = blocks.len().div_ceil(FLUSH_THREADS).max(1);
        std::thread::scope(|scope| {
            let syncing: Vec<_> = blocks
                .chunks(per_thread)
                .map(|part| scope.spawn(move || sync_blocks(part)))
                .collect();
            syncing.into_iter().try_for_each(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(FsError::Input(std::io::Error::other("sync panicked"))))
            })
        })?;
        for dir in dirs {
            sync_dir(&dir)?;
        }
        Ok(())
    }

    /// The block's bytes, verified against its hash.
    pub fn get_block(&self, hash: &[u8; 32]) -> Result<Vec<u8>> {
        let path = self.block_path(hash);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FsError::NotFound(format!("block {}", hex(hash))));
            }
            Err(e) => return Err(io(&path)(e)),
        };
        if blake3::hash(&bytes).as_bytes() != hash {
            return Err(FsError::Corrupt { hash: hex(hash) });
        }
        Ok(bytes)
    }

    /// A fresh random file key.
    pub fn new_key() -> Result<FileKey> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| FsError::Input(std::io::Error::other(e.to_string())))?;
        Ok(key)
    }

    /// Chunk `index` of a file in plain text: verified, and decrypted when `key` is given.
    fn chunk(&self, manifest: &Manifest, index: usize, key: Option<&FileKey>) -> Result<Vec<u8>> {
        let bytes = self.get_block(&manifest.chunks[index])?;
        if !manifest.encrypted {
            return Ok(bytes);
        }
        let key = key.ok_or_else(|| FsError::Encrypted("this file".into()))?;
        ChaCha20Poly1305::new(Key::from_slice(key))
            .decrypt(&nonce(index), bytes.as_slice())
            .map_err(|_| FsError::WrongKey(index))
    }

    /// Whether the block is on disk (not verified).
    pub fn has_block(&self, hash: &[u8; 32]) -> bool {
        self.block_path(hash).exists()
    }

    /// Chunks `reader`, stores every chunk and the manifest, and returns the file's id.
    /// `progress` is called with the bytes added so far.
    pub fn add(
        &self,
        mut reader: impl Read,
        options: &AddOptions,
        mut progress: impl FnMut(u64),
    ) -> Result<ContentId> {
        for label in [&options.name, &options.media_type].into_iter().flatten() {
            if label.len() > MAX_LABEL {
                return Err(FsError::BadManifest(format!(
                    "name or media type longer than {MAX_LABEL} bytes"
                )));
            }
        }
        let cipher = options
            .key
            .map(|k| ChaCha20Poly1305::new(Key::from_slice(&k)));
        // Reading here; sealing, hashing and writing on WRITERS other threads, so the CPU work
        // spreads over cores and disk waits overlap it. Chunks are numbered as read and the
        // manifest lists them in that order whatever order they are written in. Buffers go
        // round: at most BUFFERS chunks exist at once.
        let (chunks_out, to_write) =
            std::sync::mpsc::sync_channel::<(usize, ChunkBuffer)>(WRITE_AHEAD);
        // Owned by the writers alone: once every writer has stopped (say, on a full disk) the
        // receiver is gone and the reader's next send fails instead of waiting for ever.
        let to_write = std::sync::Arc::new(std::sync::Mutex::new(to_write));
        let (give_back, spare) = std::sync::mpsc::sync_channel::<ChunkBuffer>(BUFFERS);
        let (chunks, size) = std::thread::scope(|scope| -> Result<(Vec<[u8; 32]>, u64)> {
            let writers: Vec<_> = (0..WRITERS)
                .map(|_| {
                    let (to_write, give_back, cipher) =
                        (to_write.clone(), give_back.clone(), &cipher);
                    scope.spawn(move || -> Result<Vec<(usize, [u8; 32])>> {
                        let mut hashes = Vec::new();
                        loop {
                            let next = to_write.lock().unwrap_or_else(|p| p.into_inner()).recv();
                            let Ok((index, mut buffer)) = next else {
                                return Ok(hashes);
                            };
                            if let Some(cipher) = cipher {
                                buffer.seal(cipher, index)?;
                            }
                            let hash = *blake3::hash(buffer.bytes()).as_bytes();
                            self.put_verified_block(&hash, buffer.bytes())?;
                            hashes.push((index, hash));
                            let _ = give_back.send(buffer);
                        }
                    })
                })
                .collect();
            drop((to_write, give_back));
            let mut made = 0;
            let mut count = 0;
            let mut size = 0u64;
            let read = loop {
                let mut buffer = match spare.try_recv() {
                    Ok(buffer) => buffer,
                    Err(_) if made < BUFFERS => {
                        made += 1;
                        ChunkBuffer::new()
                    }
                    Err(_) => match spare.recv() {
                        Ok(buffer) => buffer,
                        Err(_) => break Ok(()), // every writer failed; reported below
                    },
                };
                let n = match fill(&mut reader, buffer.space(CHUNK_SIZE)) {
                    Ok(n) => n,
                    Err(e) => break Err(e),
                };
                if n == 0 {
                    break Ok(());
                }
                buffer.len = n;
                if chunks_out.send((count, buffer)).is_err() {
                    break Ok(()); // the writers failed; their error is reported below
                }
                count += 1;
                size += n as u64;
                progress(size);
                if n < CHUNK_SIZE {
                    break Ok(());
                }
            };
            drop(chunks_out);
            let mut chunks = vec![[0u8; 32]; count];
            let mut written = Ok(());
            for writer in writers {
                let result = writer.join().unwrap_or_else(|_| {
                    Err(FsError::Input(std::io::Error::other("writer panicked")))
                });
                match result {
                    Ok(hashes) => {
                        for (index, hash) in hashes {
                            chunks[index] = hash;
                        }
                    }
                    Err(e) if written.is_ok() => written = Err(e),
                    Err(_) => {}
                }
            }
            read?;
            written?;
            Ok((chunks, size))
        })?;
        let manifest = Manifest {
            size,
            chunk_size: CHUNK_SIZE as u32,
            chunks,
            name: options.name.clone(),
            media_type: options.media_type.clone(),
            encrypted: options.key.is_some(),
        };
        let bytes = manifest.encode();
        self.put_block(&bytes)?;
        let id = ContentId::of_manifest(&bytes);
        self.flush_file(&id, &manifest)?;
        if options.pin {
            self.pin(&id)?;
        }
        Ok(id)
    }

    /// The file's manifest, verified and decoded; `NotFound` names the file if absent.
    pub fn manifest(&self, id: &ContentId) -> Result<Manifest> {
        match self.get_block(&id.digest) {
            Ok(bytes) => Manifest::decode(&bytes),
            Err(FsError::NotFound(_)) => Err(FsError::NotFound(id.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Streams the file to `out`, verifying every chunk before writing it.
    pub fn get(&self, id: &ContentId, out: impl Write, progress: impl FnMut(u64)) -> Result<u64> {
        self.get_with_key(id, None, out, progress)
    }

    /// [`BlockStore::get`] for files that may be encrypted (refused without their key).
    pub fn get_with_key(
        &self,
        id: &ContentId,
        key: Option<&FileKey>,
        mut out: impl Write,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        let manifest = self.manifest(id)?;
        if manifest.encrypted && key.is_none() {
            return Err(FsError::Encrypted(id.to_string()));
        }
        let mut written = 0u64;
        for index in 0..manifest.chunks.len() {
            let bytes = self.chunk(&manifest, index, key)?;
            out.write_all(&bytes).map_err(FsError::Output)?;
            written += bytes.len() as u64;
            progress(written);
        }
        out.flush().map_err(FsError::Output)?;
        if written != manifest.size {
            return Err(FsError::BadManifest(format!(
                "chunks hold {written} bytes, the manifest says {}",
                manifest.size
            )));
        }
        Ok(written)
    }

    /// `len` bytes from `offset` (a ranged read; only the chunks involved are read).
    pub fn read_range(&self, id: &ContentId, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.read_range_with_key(id, None, offset, len)
    }

    /// [`BlockStore::read_range`] for files that may be encrypted.
    pub fn read_range_with_key(
        &self,
        id: &ContentId,
        key: Option<&FileKey>,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let manifest = self.manifest(id)?;
        if manifest.encrypted && key.is_none() {
            return Err(FsError::Encrypted(id.to_string()));
        }
        let end = offset
            .checked_add(len)
            .filter(|e| *e <= manifest.size)
            .ok_or(FsError::BadRange {
                offset,
                len,
                size: manifest.size,
            })?;
        let chunk_size = u64::from(manifest.chunk_size);
        let mut out = Vec::with_capacity(len as usize);
        let mut pos = offset;
        while pos < end {
            let index = (pos / chunk_size) as usize;
            let bytes = self.chunk(&manifest, index, key)?;
            let start = (pos % chunk_size) as usize;
            let take = ((end - pos) as usize).min(bytes.len() - start);
            out.extend_from_slice(&bytes[start..start + take]);
            pos += take as u64;
        }
        Ok(out)
    }

    /// The file's size, labels, pin count and how many of its chunks are held here.
    pub fn stat(&self, id: &ContentId) -> Result<Stat> {
        let manifest = self.manifest(id)?;
        Ok(Stat {
            id: *id,
            size: manifest.size,
            chunks: manifest.chunks.len(),
            local_chunks: manifest.chunks.iter().filter(|c| self.has_block(c)).count(),
            name: manifest.name,
            media_type: manifest.media_type,
            pins: self.pin_count(id)?,
            encrypted: manifest.encrypted,
        })
    }

    fn pin_path(&self, id: &ContentId) -> PathBuf {
        self.pins.join(id.to_string())
    }

    /// The file's pin count here (0 if unpinned).
    pub fn pin_count(&self, id: &ContentId) -> Result<u32> {
        let path = self.pin_path(id);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text.trim().parse().unwrap_or(1)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Adds a pin; the file's manifest must be stored here. Returns the new count.
    pub fn pin(&self, id: &ContentId) -> Result<u32> {
        let manifest = self.manifest(id)?;
        self.flush_file(id, &manifest)?;
        let count = self.pin_count(id)? + 1;
        write_atomically(&self.pin_path(id), count.to_string().as_bytes(), true)?;
        Ok(count)
    }

    /// Removes a pin; returns the remaining count. Unpinned data goes at the next `gc`.
    pub fn unpin(&self, id: &ContentId) -> Result<u32> {
        let count = self.pin_count(id)?;
        let path = self.pin_path(id);
        match count {
            0 => Err(FsError::NotFound(format!("a pin on {id}"))),
            1 => {
                std::fs::remove_file(&path).map_err(io(&path))?;
                Ok(0)
            }
            n => {
                write_atomically(&path, (n - 1).to_string().as_bytes(), true)?;
                Ok(n - 1)
            }
        }
    }

    /// Pinned files and their pin counts.
    pub fn pinned(&self) -> Result<Vec<(ContentId, u32)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.pins).map_err(io(&self.pins))? {
            let entry = entry.map_err(io(&self.pins))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Ok(id) = name.parse::<ContentId>() {
                out.push((id, self.pin_count(&id)?));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes every block that no pinned file needs.
    pub fn gc(&self) -> Result<GcReport> {
        let mut live = std::collections::HashSet::new();
        for (id, _) in self.pinned()? {
            live.insert(hex(&id.digest));
            // A pinned file whose manifest is damaged keeps nothing else alive; its pin stays.
            if let Ok(manifest) = self.manifest(&id) {
                live.extend(manifest.chunks.iter().map(hex));
            }
        }
        let mut report = GcReport::default();
        for shard in std::fs::read_dir(&self.blocks).map_err(io(&self.blocks))? {
            let shard = shard.map_err(io(&self.blocks))?.path();
            if !shard.is_dir() {
                continue;
            }
            for block in std::fs::read_dir(&shard).map_err(io(&shard))? {
                let path = block.map_err(io(&shard))?.path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if live.contains(&name) {
                    continue;
                }
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                std::fs::remove_file(&path).map_err(io(&path))?;
                report.removed_blocks += 1;
                report.freed_bytes += size;
            }
        }
        Ok(report)
    }
}

/// Stores written before blocks were sharded by one hex digit kept them under two
/// (`blocks/ab/…`): moves them where [`BlockStore::block_path`] looks. Each move is a rename,
/// so a crash midway leaves every block in one place or the other and the next open finishes.
fn move_blocks_from_two_digit_shards(blocks: &Path) -> Result<()> {
    let mut old_shards = Vec::new();
    for shard in std::fs::read_dir(blocks).map_err(io(blocks))? {
        let shard = shard.map_err(io(blocks))?.path();
        let two_digits = shard
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_hexdigit()));
        if two_digits && shard.is_dir() {
            old_shards.push(shard);
        }
    }
    if old_shards.is_empty() {
        return Ok(());
    }
    let mut moved_into = std::collections::BTreeSet::new();
    for shard in &old_shards {
        for block in std::fs::read_dir(shard).map_err(io(shard))? {
            let block = block.map_err(io(shard))?.path();
            let Some(name) = block.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(prefix) = name.get(..SHARD_DIGITS) else {
                continue;
            };
            let target = blocks.join(prefix);
            std::fs::create_dir_all(&target).map_err(io(&target))?;
            std::fs::rename(&block, target.join(name)).map_err(io(&block))?;
            moved_into.insert(target);
        }
    }
    for dir in &moved_into {
        sync_dir(dir)?;
    }
    for shard in &old_shards {
        std::fs::remove_dir(shard).map_err(io(shard))?;
    }
    sync_dir(blocks)
}

/// Syncs a directory, so the names created in it survive a crash.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Starts writing `file` to disk in the background, so the later flush finds little left to
/// do and disk writes overlap the hashing of the next chunks.
fn start_writeback(file: &std::fs::File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: `file` is an open descriptor for the whole call. A failure only means the
        // flush will do the work instead.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// A fresh temporary name beside `path`: concurrent writers of the same block (identical
/// content) never trip over each other's temporary file.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_extension(format!("tmp{}-{n}", std::process::id()))
}

/// Writes `bytes` (aligned to [`DIRECT_ALIGN`] in address and length) to a temporary file
/// with direct I/O, straight from the buffer to the device without a page-cache copy or a
/// later writeback, and renames it to `path`. `Ok(false)`: the filesystem refuses direct
/// I/O, nothing was written.
#[cfg(target_os = "linux")]
fn write_direct(path: &Path, bytes: &[u8]) -> Result<bool> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = temp_path(path);
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(&tmp);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(false),
        Err(e) => return Err(io(&tmp)(e)),
    };
    if let Err(e) = file.write_all(bytes) {
        drop(file);
        let _ = std::fs::remove_file(&tmp);
        return match e.raw_os_error() {
            Some(libc::EINVAL) => Ok(false),
            _ => Err(io(&tmp)(e)),
        };
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(true)
}

/// Writes `bytes` to a temporary file and renames it to `path`; with `sync`, the file is
/// synced before the rename.
fn write_atomically(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let tmp = temp_path(path);
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    if sync {
        file.sync_all().map_err(io(&tmp))?;
    } else {
        start_writeback(&file);
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlockStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path()).unwrap();
        (dir, store)
    }

    /// Non-repeating bytes (a BLAKE3 output stream), so no two chunks are alike.
    fn data(len: usize, seed: u8) -> Vec<u8> {
        let mut out = vec![0u8; len];
        blake3::Hasher::new()
            .update(&[seed])
            .finalize_xof()
            .fill(&mut out);
        out
    }

    fn pinned() -> AddOptions {
        AddOptions {
            pin: true,
            ..AddOptions::default()
        }
    }

    #[test]
    fn round_trips_every_size_and_is_deterministic() {
        let (_d, s) = store();
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE + 12345,
        ] {
            let bytes = data(len, 7);
            let id = s.add(bytes.as_slice(), &pinned(), |_| {}).unwrap();
            assert_eq!(s.add(bytes.as_slice(), &pinned(), |_| {}).unwrap(), id);
            let mut out = Vec::new();
            assert_eq!(s.get(&id, &mut out, |_| {}).unwrap(), len as u64);
            assert!(out == bytes, "len {len}: bytes differ");
            let stat = s.stat(&id).unwrap();
            assert_eq!(stat.size, len as u64);
            assert_eq!(stat.chunks, len.div_ceil(CHUNK_SIZE));
            assert_eq!(stat.pins, 2);
        }
        // Another store gives the same id for the same bytes.
        let (_d2, other) = store();
        let bytes = data(2 * CHUNK_SIZE + 1, 1);
        assert_eq!(
            s.add(bytes.as_slice(), &pinned(), |_| {}).unwrap(),
            other.add(bytes.as_slice(), &pinned(), |_| {}).unwrap()
        );
    }

    #[test]
    fn direct_and_buffered_writes_store_the_same_blocks() {
        // More chunks than an add has buffers, so buffers are reused, plus a partial tail.
        let bytes = data((BUFFERS + 5) * CHUNK_SIZE + 4097, 3);
        let (_d, direct) = store();
        let (_e, buffered) = store();
        buffered
            .direct_io
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let id = direct.add(bytes.as_slice(), &pinned(), |_| {}).unwrap();
        assert_eq!(
            buffered.add(bytes.as_slice(), &pinned(), |_| {}).unwrap(),
            id
        );
        let manifest = direct.manifest(&id).unwrap();
        assert_eq!(manifest.chunks.len(), BUFFERS + 6);
        for (index, hash) in manifest.chunks.iter().enumerate() {
            let block = direct.get_block(hash).unwrap();
            assert!(block == buffered.get_block(hash).unwrap());
            let start = index * CHUNK_SIZE;
            assert!(block == bytes[start..(start + CHUNK_SIZE).min(bytes.len())]);
        }
    }

    #[test]
    fn a_store_in_the_two_digit_layout_is_moved_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = data(2 * CHUNK_SIZE + 7, 4);
        let id = {
            let s = BlockStore::open(dir.path()).unwrap();
            s.add(bytes.as_slice(), &pinned(), |_| {}).unwrap()
        };
        // Rewrite the store into the earlier layout: blocks/ab/abcdef…
        let blocks = dir.path().join("blocks");
        let shards: Vec<_> = std::fs::read_dir(&blocks)
            .unwrap()
            .map(|shard| shard.unwrap().path())
            .collect();
        for shard in shards {
            for block in std::fs::read_dir(&shard).unwrap() {
                let block = block.unwrap().path();
                let name = block.file_name().unwrap().to_str().unwrap().to_owned();
                let old = blocks.join(&name[..2]);
                std::fs::create_dir_all(&old).unwrap();
                std::fs::rename(&block, old.join(&name)).unwrap();
            }
            std::fs::remove_dir(&shard).unwrap();
        }
        let s = BlockStore::open(dir.path()).unwrap();
        let mut out = Vec::new();
        s.get(&id, &mut out, |_| {}).unwrap();
        assert!(out == bytes);
        for shard in std::fs::read_dir(&blocks).unwrap() {
            let name = shard.unwrap().file_name();
            assert_eq!(name.len(), SHARD_DIGITS, "{name:?} left behind");
        }
    }

    #[test]
    fn unaligned_blocks_are_stored_intact() {
        let (_d, s) = store();
        let backing = data(CHUNK_SIZE + 1, 9);
        for block in [
            &backing[1..],
            &backing[..CHUNK_SIZE],
            &backing[..DIRECT_ALIGN + 1],
        ] {
            let hash = s.put_block(block).unwrap();
            assert!(s.get_block(&hash).unwrap() == block);
        }
    }

    /// Gives `good` bytes, then fails.
    struct FailingReader {
        good: usize,
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.good == 0 {
                return Err(std::io::Error::other("disk went away"));
            }
            let n = buf.len().min(self.good);
            buf[..n].fill(7);
            self.good -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_store_that_cannot_write_fails_the_add_instead_of_hanging() {
        let (dir, s) = store();
        // Every block directory is a plain file: no block can be written.
        let blocks = dir.path().join("blocks");
        std::fs::remove_dir_all(&blocks).unwrap();
        std::fs::write(&blocks, b"not a directory").unwrap();
        let bytes = data((BUFFERS + WRITE_AHEAD + 3) * CHUNK_SIZE, 5);
        let err = s.add(bytes.as_slice(), &pinned(), |_| {}).unwrap_err();
        assert!(matches!(err, FsError::Io { .. }), "{err}");
        assert!(s.pinned().unwrap().is_empty());
    }

    #[test]
    fn a_failing_input_fails_the_add_and_pins_nothing() {
        let (_d, s) = store();
        let err = s
            .add(
                FailingReader {
                    good: 3 * CHUNK_SIZE + 5,
                },
                &pinned(),
                |_| {},
            )
            .unwrap_err();
        assert!(matches!(err, FsError::Input(_)), "{err}");
        assert!(s.pinned().unwrap().is_empty());
    }

    #[test]
    fn encrypted_files_need_their_key() {
        let (_d, s) = store();
        let bytes = data(2 * CHUNK_SIZE + 77, 5);
        let key = BlockStore::new_key().unwrap();
        let options = AddOptions {
            pin: true,
            key: Some(key),
            ..AddOptions::default()
        };
        let id = s.add(bytes.as_slice(), &options, |_| {}).unwrap();
        assert!(s.stat(&id).unwrap().encrypted);
        // No plaintext chunk is stored.
        let plain = s.add(bytes.as_slice(), &pinned(), |_| {}).unwrap();
        let plain_chunks = s.manifest(&plain).unwrap().chunks;
        assert!(
            s.manifest(&id)
                .unwrap()
                .chunks
                .iter()
                .all(|c| !plain_chunks.contains(c))
        );
        let mut out = Vec::new();
        assert!(matches!(
            s.get(&id, &mut out, |_| {}),
            Err(FsError::Encrypted(_))
        ));
        assert!(out.is_empty());
        let wrong = BlockStore::new_key().unwrap();
        assert!(matches!(
            s.get_with_key(&id, Some(&wrong), &mut out, |_| {}),
            Err(FsError::WrongKey(0))
        ));
        assert!(out.is_empty());
        s.get_with_key(&id, Some(&key), &mut out, |_| {}).unwrap();
        assert!(out == bytes);
        let range = s
            .read_range_with_key(&id, Some(&key), CHUNK_SIZE as u64 - 3, 10)
            .unwrap();
        assert!(range == bytes[CHUNK_SIZE - 3..CHUNK_SIZE + 7]);
    }

    #[test]
    fn ranges_cross_chunk_boundaries() {
        let (_d, s) = store();
        let bytes = data(3 * CHUNK_SIZE, 3);
        let id = s.add(bytes.as_slice(), &pinned(), |_| {}).unwrap();
        let offset = CHUNK_SIZE as u64 - 10;
        let got = s.read_range(&id, offset, CHUNK_SIZE as u64 + 20).unwrap();
        assert!(got == bytes[offset as usize..offset as usize + CHUNK_SIZE + 20]);
        assert!(matches!(
            s.read_range(&id, 3 * CHUNK_SIZE as u64, 1),
            Err(FsError::BadRange { .. })
        ));
    }

    #[test]
    fn a_corrupted_chunk_is_an_error_never_data() {
        let (_d, s) = store();
        let bytes = data(2 * CHUNK_SIZE, 9);
        let id = s.add(bytes.as_slice(), &pinned(), |_| {}).unwrap();
        let second = s.manifest(&id).unwrap().chunks[1];
        let path = s.block_path(&second);
        let mut damaged = std::fs::read(&path).unwrap();
        damaged[100] ^= 0xff;
        std::fs::write(&path, damaged).unwrap();
        let mut out = Vec::new();
        let err = s.get(&id, &mut out, |_| {}).unwrap_err();
        assert!(matches!(err, FsError::Corrupt { .. }), "{err}");
        // Only the verified first chunk was written.
        assert!(out == bytes[..CHUNK_SIZE], "wrong bytes were written");
        assert!(s.read_range(&id, CHUNK_SIZE as u64, 10).is_err());
    }

    #[test]
    fn gc_collects_unpinned_and_keeps_pinned_and_shared_chunks() {
        let (_d, s) = store();
        let shared = data(CHUNK_SIZE, 1);
        let mut kept_bytes = shared.clone();
        kept_bytes.extend(data(10, 2));
        let mut dropped_bytes = shared.clone();
        dropped_bytes.extend(data(10, 3));
        let kept = s.add(kept_bytes.as_slice(), &pinned(), |_| {}).unwrap();
        let dropped = s.add(dropped_bytes.as_slice(), &pinned(), |_| {}).unwrap();
        let loose = s
            .add(data(5000, 4).as_slice(), &AddOptions::default(), |_| {})
            .unwrap();
        assert_eq!(s.unpin(&dropped).unwrap(), 0);
        assert!(s.unpin(&dropped).is_err());
        let report = s.gc().unwrap();
        // dropped: its tail chunk + manifest; loose: its chunk + manifest.
        assert_eq!(report.removed_blocks, 4);
        let mut out = Vec::new();
        s.get(&kept, &mut out, |_| {}).unwrap();
        assert!(out == kept_bytes);
        assert!(matches!(s.stat(&dropped), Err(FsError::NotFound(_))));
        assert!(matches!(s.stat(&loose), Err(FsError::NotFound(_))));
        assert_eq!(s.pinned().unwrap(), vec![(kept, 1)]);
        assert_eq!(s.gc().unwrap(), GcReport::default());
    }
}
