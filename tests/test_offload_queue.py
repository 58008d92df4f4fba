import os
import shutil
import socket
import tempfile
import threading

import numpy as np
import pytest

from sedna_lib.transport.outbox import OffloadQueue
from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import StorageError
from sedna_lib.joint_inference import JointInference
from sedna_lib.servers.inference import InferenceServer
from sedna_lib.transport.http import InferenceClient


def test_entries_are_readable_by_a_new_queue_before_any_sync(tmp_path):
    queue = OffloadQueue(str(tmp_path))
    queue.put(np.arange(3.0), {"callback": None})
    queue.put([1, 2], {"callback": "cb"})

    reopened = OffloadQueue(str(tmp_path)).peek()

    assert reopened[0].data.tolist() == [0.0, 1.0, 2.0] and reopened[1].data == [1, 2]
    assert reopened[1].meta["callback"] == "cb"


def test_sync_flushes_each_pending_entry_once_and_skips_removed_ones(tmp_path):
    queue = OffloadQueue(str(tmp_path))
    first = queue.put(np.zeros(2))
    queue.put(np.ones(2))
    queue.remove(first)

    flushed, again = queue.sync(), queue.sync()

    assert (flushed, again) == (1, 0)


def test_fsync_per_put_leaves_nothing_to_sync(tmp_path):
    queue = OffloadQueue(str(tmp_path), fsync=True)
    queue.put(np.zeros(2))

    assert queue.sync() == 0
    assert len(OffloadQueue(str(tmp_path))) == 1


def test_sync_of_an_entry_the_disk_cannot_flush_is_a_storage_error():
    folder = tempfile.mkdtemp(prefix="q")  # short: a unix socket path is at most 107 bytes
    queue = OffloadQueue(folder)
    entry = queue.put(np.zeros(2))
    path = os.path.join(folder, entry + ".sdna")
    os.remove(path)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)  # something that cannot be opened as a file now stands in its place
    try:
        with pytest.raises(StorageError, match="cannot flush the offload queue"):
            queue.sync()
    finally:
        sock.close()
        shutil.rmtree(folder)


def test_put_where_a_file_blocks_the_folder_is_a_storage_error(tmp_path):
    (tmp_path / "q").write_text("a file where the folder should be")

    with pytest.raises(StorageError, match="offload queue"):
        OffloadQueue(str(tmp_path / "q")).put(np.zeros(2))


def test_unreadable_entries_are_moved_aside(tmp_path):
    queue = OffloadQueue(str(tmp_path))
    bad = queue.put(np.zeros(2))
    queue.put(np.ones(2))
    (tmp_path / f"{bad}.sdna").write_bytes(b"not an entry")

    entries = queue.peek()

    assert [e.data.tolist() for e in entries] == [[1.0, 1.0]]
    assert queue.corrupt == 1 and (tmp_path / "corrupt" / f"{bad}.sdna").exists()


def test_an_unreadable_entry_that_cannot_be_moved_aside_is_a_storage_error(tmp_path):
    queue = OffloadQueue(str(tmp_path))
    bad = queue.put(np.zeros(2))
    (tmp_path / f"{bad}.sdna").write_bytes(b"not an entry")
    (tmp_path / "corrupt").write_text("a file where the corrupt/ folder should be")

    with pytest.raises(StorageError, match="cannot move the unreadable offload queue entry"):
        queue.peek()


def test_one_owner_of_a_folder_drains_at_a_time_and_sees_what_the_others_did(tmp_path):
    first, second = OffloadQueue(str(tmp_path)), OffloadQueue(str(tmp_path))
    first.put([1])
    assert len(second) == 1  # read from the folder
    with first.draining() as held:
        assert held
        with second.draining(wait=False) as other:
            assert other is False
        first.remove(first.ids()[0])
        first.put([2])
    with second.draining(wait=False) as held:
        assert held and [item.data for item in second.peek()] == [[2]]  # the folder was read again
    assert os.path.exists(tmp_path / ".drain.lock") and len(OffloadQueue(str(tmp_path))) == 1


def test_a_drain_lock_that_cannot_be_created_is_a_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="cannot create the drain lock"):
        with OffloadQueue(str(blocker / "queue")).draining():
            pass


class Edge:
    def predict(self, data):
        return np.full(10, 0.1)


class CountingCloud:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []

    def predict(self, data):
        with self.lock:
            self.seen.append(float(np.asarray(data)[0]))
        return [1.0]


def test_concurrent_drains_deliver_each_queued_example_exactly_once(tmp_path):
    queue = OffloadQueue(str(tmp_path))
    for i in range(24):
        queue.put(np.array([float(i)]))
    cloud = CountingCloud()
    delivered = []
    with InferenceServer(cloud, "svc", http_port=0) as server:
        job = JointInference(Edge(), "EdgeOnly", context=Context(Config()), offload_dir=str(tmp_path),
                             cloud=InferenceClient(server.url, service_name="svc"), report=False,
                             on_offloaded=lambda ex: delivered.append(ex.id))
        threads = [threading.Thread(target=job.drain_offload_queue) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        job.close()

    assert sorted(cloud.seen) == [float(i) for i in range(24)]
    assert len(delivered) == len(set(delivered)) == 24
    assert job.pending_offloads == 0


def test_a_failing_on_offloaded_is_counted_and_the_drain_goes_on(tmp_path):
    queue = OffloadQueue(str(tmp_path))
    for i in range(3):
        queue.put(np.array([float(i)]))
    cloud = CountingCloud()

    def on_offloaded(example):
        raise RuntimeError("the user's handler failed")

    with InferenceServer(cloud, "svc", http_port=0) as server:
        job = JointInference(Edge(), "EdgeOnly", context=Context(Config()), offload_dir=str(tmp_path),
                             cloud=InferenceClient(server.url, service_name="svc"), report=False,
                             on_offloaded=on_offloaded)
        sent = job.drain_offload_queue()
        job.close()

    assert sent == 3 and job.stats["callback_failed"] == 3 and job.stats["replayed"] == 3
    assert sorted(cloud.seen) == [0.0, 1.0, 2.0] and job.pending_offloads == 0  # none sent twice


def test_a_full_queue_says_its_drops_once_then_counts_them(tmp_path, caplog):
    import logging
    import warnings

    queue = OffloadQueue(str(tmp_path / "q"), max_items=2)
    with caplog.at_level(logging.WARNING, "sedna_lib"), warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning per dropped sample (a long outage printed one each)
        for i in range(10):
            queue.put(np.array([float(i)]), {})
        for i in range(6):
            queue.bury(None, np.array([float(i)]), reason="refused")
        said_now = [r.getMessage() for r in caplog.records]
        queue.say_drops()
    said = [r.getMessage() for r in caplog.records]

    assert queue.dropped == 8 + 4
    assert [float(s.data[0]) for s in queue.peek()] == [8.0, 9.0]  # the newest kept, in order
    assert len(said_now) == 2  # the first drop of each folder, at once
    assert "offload queue" in said_now[0] and "dropped the oldest 1 " in said_now[0]
    assert "dead-letter folder" in said_now[1]
    assert len(said) == 4  # then one line each with what was counted meanwhile
    assert "dropped the oldest 7 " in said[2] and "8 dropped in all" in said[2]
    assert "dropped the oldest 3 " in said[3]
