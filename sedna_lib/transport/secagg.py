"""Secure aggregation's primitives: pairwise-masked sums, so that the server learns only their sum.

This module holds the cryptography both sides use (the aggregation server's
:class:`~sedna_lib.servers.secure_rounds.SecureRounds` and the trainers, in
:mod:`sedna_lib.federated_learning.client`); :mod:`sedna_lib.federated_learning.secure_aggregation`
exports the same names with the in-process round of the simulation.

The protocol is the one of Bonawitz et al. (CCS 2017), with every pair of clients masked (the
complete graph; SecAgg+ replaces it with a sparse one):

1. **Advertise keys.** Each client makes two X25519 key pairs: ``c`` (its channel to every other
   client, through the server) and ``s`` (its pairwise masks).
2. **Share keys.** Each client draws a 16-byte self-mask seed ``b_u`` and splits it, and the
   16-byte seed of its ``s`` private key, into ``t``-of-``n`` Shamir shares (``pycryptodomex``,
   over GF(2^128)); each pair of shares is sealed for its recipient with AES-GCM under a key
   derived (HKDF-SHA256) from their ``c`` agreement, and handed to the server to route.
3. **Masked input.** Each client encodes its vector as 64-bit fixed-point integers and adds,
   modulo 2^64, the stream of its self mask (ChaCha20 keyed from ``b_u``) and, for every other
   client ``v``, the stream keyed from their ``s`` agreement, added when ``u < v`` and
   subtracted otherwise, so the pairwise masks cancel in the sum.
4. **Unmask.** Each surviving client returns, for every other client, the share of ``b_v`` if
   ``v`` sent its input, or the share of ``s_v`` if it dropped out; from ``t`` shares the server
   rebuilds the self masks of the survivors (and removes them) and the mask keys of the dropped
   clients (and removes the masks they shared with the survivors).

Every primitive comes from ``cryptography`` (X25519, HKDF, AES-GCM, ChaCha20) and
``pycryptodomex`` (Shamir secret sharing); both are the ``secagg`` extra, imported when a round
runs. The server in this module is honest-but-curious: it follows the protocol; with at least
``t`` honest clients it cannot learn an individual input, and it can finish a round as long as
``t`` clients are still there at the end.

References
----------
Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning",
CCS 2017, https://eprint.iacr.org/2017/281; Bell et al., "Secure Single-Server Aggregation with
(Poly)Logarithmic Overhead", CCS 2020, https://eprint.iacr.org/2020/704 (SecAgg+)
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from ..base import check_count
from ..exceptions import AggregationError, BackendUnavailableError, ParameterError, ProtocolError
from ._numbers import is_int

__all__ = ["SecAggClient", "SecAggServer", "PublicKeys", "encode_fixed_point", "decode_fixed_point",
           "secure_sum", "secure_weighted_average", "weighted_input", "split_layers", "check_public_key",
           "check_fractional_bits", "MIN_MEMBERS"]

_MOD_BITS = 64
_SEED_BYTES = 16
_MAX_BITS = 62
# a sum of one input is that input: a round needs two at least, at every step
MIN_MEMBERS = 2


@functools.lru_cache(maxsize=None)
def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        from Cryptodome.Protocol.SecretSharing import Shamir
    except ImportError as exc:
        raise BackendUnavailableError.missing(
            "cryptography or pycryptodomex (for secure aggregation)", "sedna_lib[secagg]",
            error=exc) from None
    names = dict(hashes=hashes, serialization=serialization, X25519PrivateKey=X25519PrivateKey,
                 X25519PublicKey=X25519PublicKey, Cipher=Cipher, algorithms=algorithms, AESGCM=AESGCM,
                 HKDF=HKDF, Shamir=Shamir)
    return type("_Crypto", (), names)


def _hkdf(secret: bytes, info: bytes, length: int = 32) -> bytes:
    c = _crypto()
    return c.HKDF(algorithm=c.hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def _stream(key: bytes, size: int) -> np.ndarray:
    """Return ``size`` pseudo-random uint64 words: the ChaCha20 keystream of ``key`` (zero nonce).

    Each key is used for one stream only (keys are derived per round and per purpose).
    """
    c = _crypto()
    if size == 0:
        return np.zeros(0, dtype=np.uint64)
    enc = c.Cipher(c.algorithms.ChaCha20(key, b"\x00" * 16), mode=None).encryptor()
    return np.frombuffer(enc.update(bytes(8 * size)), dtype="<u8").astype(np.uint64, copy=False)


def _private_key(seed: bytes) -> Any:
    return _crypto().X25519PrivateKey.from_private_bytes(_hkdf(seed, b"sedna-secagg x25519 key"))


def _public_bytes(key: Any) -> bytes:
    s = _crypto().serialization
    return key.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)


def _agree(private: Any, public: bytes) -> bytes:
    return private.exchange(_crypto().X25519PublicKey.from_public_bytes(public))


def check_public_key(raw: bytes, what: str = "a public key") -> None:
    """Refuse an X25519 public key that agrees on no secret (a low-order point, such as 32 zero bytes).

    Every key agreement with such a key gives the same all-zero secret, so the masks and the
    sealed shares derived from it would be known to anyone; the check is the library's own (an
    agreement with a fresh key, which ``cryptography`` refuses for those points).

    Parameters
    ----------
    raw : bytes
        The 32-byte public key.
    what : str, default='a public key'
        How to name the key in the error.

    Raises
    ------
    ProtocolError
        If the key is not 32 bytes or is a low-order point.
    """
    c = _crypto()
    try:
        c.X25519PrivateKey.generate().exchange(c.X25519PublicKey.from_public_bytes(bytes(raw)))
    except ValueError:
        raise ProtocolError(f"{what} is not a usable X25519 public key (a low-order point, such as all "
                            "zeros, agrees on no secret); send the key advertise_keys() made") from None


def check_fractional_bits(fractional_bits: Any) -> int:
    """Return ``fractional_bits`` as an int, checked to lie in [0, 62].

    Raises
    ------
    ParameterError
        If it is not an integer in that range.
    """
    if not is_int(fractional_bits, numpy=True) or not 0 <= int(fractional_bits) <= _MAX_BITS:
        raise ParameterError(f"fractional_bits must be an integer in [0, {_MAX_BITS}] (24 suits float32 "
                             f"models), got {fractional_bits!r}")
    return int(fractional_bits)


def encode_fixed_point(values: np.ndarray, fractional_bits: int, *, summands: int = 1) -> np.ndarray:
    """Encode floats as 64-bit fixed-point integers modulo 2^64 (two's complement).

    Parameters
    ----------
    values : numpy.ndarray
        Floats.
    fractional_bits : int
        Bits after the binary point: a value is rounded to a multiple of ``2^-fractional_bits``.
    summands : int, default=1
        How many such vectors are summed (a round's members): each value must leave room for the
        sum to stay below 2^63, so that it decodes exactly rather than wrapping around.

    Returns
    -------
    numpy.ndarray of uint64
        ``round(values * 2^fractional_bits) mod 2^64``.

    Raises
    ------
    AggregationError
        If a value is not finite, or too large for a sum of ``summands`` of them to be exact
        (``|x| * 2^bits * (summands + 1)`` must stay below 2^63).
    ParameterError
        If ``fractional_bits`` is not in [0, 62] or ``summands`` is not a whole number >= 1.

    Examples
    --------
    >>> decode_fixed_point(encode_fixed_point(np.array([1.5, -0.25]), 8), 8).tolist()
    [1.5, -0.25]
    """
    fractional_bits = check_fractional_bits(fractional_bits)
    summands = check_count("summands", summands)  # int() took 2.5 summands as 2: less room than the sum needs
    bound = 2.0 ** 63 / (summands + 1)
    scaled = np.rint(np.asarray(values, dtype=np.float64) * float(2 ** fractional_bits))
    if not np.all(np.isfinite(scaled)):
        raise AggregationError("a value to aggregate is not finite (NaN or infinity): the model or its "
                               "sample count diverged")
    if scaled.size and np.max(np.abs(scaled)) >= bound:
        largest = float(np.max(np.abs(scaled))) / 2.0 ** fractional_bits
        raise AggregationError(f"a value of magnitude {largest:.4g} is too large for a fixed-point sum of "
                               f"{summands} input{'s' * (summands != 1)} with {fractional_bits} "
                               "fractional bits "
                               f"(|x| * 2^bits * (inputs + 1) must stay below 2^63, or the sum wraps "
                               "around); lower fractional_bits")
    return scaled.astype(np.int64).view(np.uint64)


def decode_fixed_point(words: np.ndarray, fractional_bits: int) -> np.ndarray:
    """Decode 64-bit fixed-point integers (two's complement) back to float64.

    Parameters
    ----------
    words : numpy.ndarray of uint64
        Encoded values (or their sum modulo 2^64).
    fractional_bits : int
        As used to encode.

    Returns
    -------
    numpy.ndarray of float64
        The values.
    """
    return np.asarray(words, dtype=np.uint64).view(np.int64).astype(np.float64) / float(2 ** fractional_bits)


@dataclass
class PublicKeys:
    """A client's two public keys for one round (32 bytes each).

    Attributes
    ----------
    c_public : bytes
        Its channel key: shares sent to it are sealed under the agreement with it.
    s_public : bytes
        Its mask key: the pairwise masks it shares with every other client derive from it.
    """

    c_public: bytes
    s_public: bytes


_Keys = PublicKeys


@dataclass
class SecAggClient:
    """One client's side of a secure-aggregation round.

    Parameters
    ----------
    client_id : str
        The client's name, unique in the round.

    Attributes
    ----------
    received_ : dict
        Sealed shares other clients sent to this one, by sender.
    """

    client_id: str
    received_: dict = field(default_factory=dict, repr=False)

    def advertise_keys(self) -> _Keys:
        """Round step 1: make this round's key pairs and return the public halves.

        Returns
        -------
        _Keys
            The channel and mask public keys (32 bytes each).
        """
        self._c = _crypto().X25519PrivateKey.generate()
        self._channels: dict = {}
        self._s_seed = os.urandom(_SEED_BYTES)
        self._s = _private_key(self._s_seed)
        self._b_seed = os.urandom(_SEED_BYTES)
        return _Keys(_public_bytes(self._c), _public_bytes(self._s))

    def _channel(self, other: str, keys: _Keys) -> Any:
        channels = self.__dict__.setdefault("_channels", {})
        if other not in channels:
            pair = "|".join(sorted((self.client_id, other))).encode()
            key = _hkdf(_agree(self._c, keys.c_public), b"sedna-secagg channel " + pair)
            channels[other] = _crypto().AESGCM(key)
        return channels[other]

    def share_keys(self, keys: dict[str, _Keys], threshold: int) -> dict[str, bytes]:
        """Round step 2: split ``b_u`` and the ``s`` key seed into shares, sealed for each client.

        Parameters
        ----------
        keys : dict of str to _Keys
            Every client's public keys (this one's included), as the server relays them.
        threshold : int
            ``t``: shares needed to rebuild a secret.

        Returns
        -------
        dict of str to bytes
            One sealed message per other client, for the server to route.

        Raises
        ------
        ParameterError
            If ``threshold`` is not a whole number >= 1.
        """
        threshold = check_count("threshold", threshold)  # Shamir's t: 2.5 or True is no share count
        self._keys = dict(keys)
        self._order = sorted(keys)
        shamir = _crypto().Shamir
        b_shares = shamir.split(threshold, len(self._order), self._b_seed)
        s_shares = shamir.split(threshold, len(self._order), self._s_seed)
        out = {}
        for (index, b_share), (_, s_share), other in zip(b_shares, s_shares, self._order):
            plain = index.to_bytes(4, "big") + b_share + s_share
            if other == self.client_id:
                self._own_share = plain
                continue
            nonce = os.urandom(12)
            aad = f"{self.client_id}->{other}".encode()
            out[other] = nonce + self._channel(other, keys[other]).encrypt(nonce, plain, aad)
        return out

    def receive_shares(self, sealed: dict[str, bytes]) -> None:
        """Keep the sealed shares other clients sent this one (routed by the server).

        Parameters
        ----------
        sealed : dict of str to bytes
            Message by sender.
        """
        self.received_.update(sealed)

    def masked_input(self, words: np.ndarray, round_label: bytes = b"",
                     peers: Iterable[str] | None = None) -> np.ndarray:
        """Round step 3: return the encoded input plus the self mask and the pairwise masks, mod 2^64.

        Parameters
        ----------
        words : numpy.ndarray of uint64
            The fixed-point encoded input.
        round_label : bytes, default=b''
            Mixed into the key derivation (a round number).
        peers : iterable of str, default=None
            The clients whose shares reached the server (step 2's survivors, this one included);
            pairwise masks are added for them only. None: every client of step 2.

        Returns
        -------
        numpy.ndarray of uint64
            The masked input.
        """
        y = np.array(words, dtype=np.uint64, copy=True)
        y += _stream(_hkdf(self._b_seed, b"sedna-secagg self mask " + round_label), y.size)
        for other in (self._order if peers is None else sorted(set(peers))):
            if other == self.client_id:
                continue
            mask = _stream(_pair_key(_agree(self._s, self._keys[other].s_public), self.client_id, other,
                                     round_label), y.size)
            if self.client_id < other:
                y += mask
            else:
                y -= mask
        return y

    def unmask(self, survivors: Iterable[str],
               dropped: Iterable[str]) -> dict[str, tuple[str, tuple[int, bytes]]]:
        """Round step 4: reveal, per other client, the share the server needs to remove its masks.

        Parameters
        ----------
        survivors : iterable of str
            Clients whose masked input reached the server.
        dropped : iterable of str
            Clients that shared keys but whose input never arrived.

        Returns
        -------
        dict of str to (kind, share)
            ``('b', share)`` for a survivor, ``('s', share)`` for a dropped client.

        Raises
        ------
        AggregationError
            If a client is asked to be both, or a sealed share does not open.
        """
        survivors, dropped = set(survivors), set(dropped)
        if survivors & dropped:
            raise AggregationError(f"clients {sorted(survivors & dropped)} cannot both survive and drop out")
        out = {}
        for other in sorted(survivors | dropped):
            if other == self.client_id:
                plain = self._own_share
            else:
                sealed = self.received_.get(other)
                if sealed is None:
                    continue
                aad = f"{other}->{self.client_id}".encode()
                try:
                    plain = self._channel(other, self._keys[other]).decrypt(sealed[:12], sealed[12:], aad)
                except Exception:  # cryptography's InvalidTag: tampered or misrouted
                    raise AggregationError(f"the share {other!r} sent to {self.client_id!r} does not open "
                                           "(tampered or misrouted)") from None
            index = int.from_bytes(plain[:4], "big")
            b_share, s_share = plain[4:4 + _SEED_BYTES], plain[4 + _SEED_BYTES:]
            out[other] = ("b", (index, b_share)) if other in survivors else ("s", (index, s_share))
        return out


def _pair_key(shared: bytes, a: str, b: str, round_label: bytes) -> bytes:
    pair = "|".join(sorted((a, b))).encode()
    return _hkdf(shared, b"sedna-secagg pair mask " + pair + b" " + round_label)


class SecAggServer:
    """The server's side: relay keys and shares, sum the masked inputs, remove the masks.

    Parameters
    ----------
    threshold : int
        ``t``: shares needed to rebuild a secret (and clients needed at the end of the round).
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold

    def unmasked_sum(self, masked: dict[str, np.ndarray], keys: dict[str, _Keys],
                     reveals: Sequence[dict[str, tuple[str, tuple[int, bytes]]]],
                     round_label: bytes = b"") -> np.ndarray:
        """Return the sum of the survivors' encoded inputs, mod 2^64.

        Parameters
        ----------
        masked : dict of str to numpy.ndarray of uint64
            The masked inputs that arrived, by client.
        keys : dict of str to _Keys
            Every client's public keys from step 1.
        reveals : sequence of dict
            What each surviving client's :meth:`SecAggClient.unmask` returned.
        round_label : bytes, default=b''
            As the clients used.

        Returns
        -------
        numpy.ndarray of uint64
            The sum of the survivors' inputs.

        Raises
        ------
        AggregationError
            If fewer than ``t`` clients answered the unmasking step, or a secret cannot be rebuilt.
        """
        if len(reveals) < self.threshold:
            raise AggregationError(f"only {len(reveals)} clients answered the unmasking step, fewer than the "
                                   f"threshold {self.threshold}; the round cannot be unmasked")
        if not masked:
            raise AggregationError("no masked input arrived")
        survivors = sorted(masked)
        dropped = sorted(set(keys) - set(masked))
        shamir = _crypto().Shamir
        size = next(iter(masked.values())).size
        if any(y.size != size for y in masked.values()):
            lengths = sorted({y.size for y in masked.values()})
            raise AggregationError(f"the masked inputs differ in length ({lengths} words); every member must "
                                   "send the same model")
        total = np.zeros(size, dtype=np.uint64)
        for y in masked.values():
            total += y

        def rebuild(who: str, kind: str) -> bytes:
            shares = {}  # by index: one share per member's position
            for r in reveals:
                if who in r and r[who][0] == kind:
                    index, share = r[who][1]
                    shares.setdefault(int(index), bytes(share))
            if len(shares) < self.threshold:
                raise AggregationError(f"only {len(shares)} shares of the secret of {who!r} arrived, fewer "
                                       f"than the threshold {self.threshold}")
            items = sorted(shares.items())
            try:
                secret = shamir.combine(items[:self.threshold])
                # more shares than needed: a second set must rebuild the same secret, or one is wrong
                if len(items) > self.threshold and shamir.combine(items[-self.threshold:]) != secret:
                    raise AggregationError(f"the revealed shares of {who!r} disagree: a member revealed a "
                                           "wrong share")
            except ValueError as exc:  # pycryptodome's refusal of malformed shares
                raise AggregationError(f"the revealed shares of {who!r} do not combine: {exc}") from None
            return secret

        for u in survivors:
            total -= _stream(_hkdf(rebuild(u, "b"), b"sedna-secagg self mask " + round_label), size)
        for v in dropped:
            s_v = _private_key(rebuild(v, "s"))
            for u in survivors:
                mask = _stream(_pair_key(_agree(s_v, keys[u].s_public), u, v, round_label), size)
                if u < v:  # u added +mask(u, v); v's -mask never arrived
                    total -= mask
                else:
                    total += mask
        return total


def secure_sum(vectors: dict[str, np.ndarray], *, threshold: int | None = None,
               dropouts: Iterable[str] = (), fractional_bits: int = 24,
               round_label: bytes = b"") -> np.ndarray:
    """Run one whole secure-aggregation round in this process and return the sum of the inputs.

    Parameters
    ----------
    vectors : dict of str to numpy.ndarray
        Each client's input (floats, all the same length).
    threshold : int, default=None
        ``t`` (None: a majority, ``n // 2 + 1``).
    dropouts : iterable of str, default=()
        Clients that share their keys but drop out before sending their masked input.
    fractional_bits : int, default=24
        Fixed-point precision of the encoding.
    round_label : bytes, default=b''
        Mixed into the mask keys.

    Returns
    -------
    numpy.ndarray of float64
        The sum of the surviving clients' fixed-point inputs (exactly, as fixed-point).

    Raises
    ------
    ParameterError
        If there are no inputs, inputs differ in length, a dropout names no client, fewer than two
        inputs survive, or the threshold (a whole number) or ``fractional_bits`` is out of range.
    AggregationError
        If too many clients dropped out to unmask, or a value is too large for an exact sum.
    """
    if not isinstance(vectors, dict) or not vectors:
        raise ParameterError("secure_sum needs a dict of client id to input vector, with two inputs at "
                             f"least; got {vectors!r:.80}")
    fractional_bits = check_fractional_bits(fractional_bits)
    ids = sorted(vectors)
    n = len(ids)
    t = n // 2 + 1 if threshold is None else check_count("threshold", threshold)  # not 2.5 as 2
    if not 1 <= t <= n:
        raise ParameterError(f"threshold must be in [1, {n}] for {n} clients, got {threshold}")
    sizes = {cid: np.size(vectors[cid]) for cid in ids}
    if len(set(sizes.values())) > 1:
        raise ParameterError(f"every input must have the same length; got {sizes}")
    dropouts = set(dropouts)
    if dropouts - set(ids):
        raise ParameterError(f"dropouts {sorted(map(str, dropouts - set(ids)))} are not among the clients "
                             f"{ids}")
    if n - len(dropouts) < MIN_MEMBERS:
        raise ParameterError(f"a secure sum needs {MIN_MEMBERS} surviving inputs at least (the sum of one "
                             f"is that input); {n} clients with {len(dropouts)} dropouts leave "
                             f"{n - len(dropouts)}")
    clients = {cid: SecAggClient(cid) for cid in ids}
    keys = {cid: c.advertise_keys() for cid, c in clients.items()}
    for cid, c in clients.items():
        for other, sealed in c.share_keys(keys, t).items():
            clients[other].receive_shares({cid: sealed})
    masked = {cid: clients[cid].masked_input(encode_fixed_point(vectors[cid], fractional_bits, summands=n),
                                             round_label)
              for cid in ids if cid not in dropouts}
    survivors = sorted(masked)
    reveals = [clients[cid].unmask(survivors, sorted(dropouts)) for cid in survivors]
    total = SecAggServer(t).unmasked_sum(masked, keys, reveals, round_label)
    return decode_fixed_point(total, fractional_bits)


def weighted_input(layers: Sequence[np.ndarray], num_samples: float) -> np.ndarray:
    """Return one client's input to a secure FedAvg: ``[n * w (flattened), n]`` in float64.

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The client's model.
    num_samples : float
        Its sample count ``n``.

    Returns
    -------
    numpy.ndarray of float64
        The flattened, weighted layers followed by ``n``.
    """
    flat = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in layers] + [np.zeros(1)])
    flat[:-1] *= float(num_samples)
    flat[-1] = float(num_samples)
    return flat


def split_layers(summed: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> tuple[list[np.ndarray], float]:
    """Turn the sum of :func:`weighted_input` vectors into the sample-weighted mean model.

    Parameters
    ----------
    summed : numpy.ndarray of float64
        ``[sum n_k w_k, sum n_k]``.
    shapes : sequence of tuple
        The layers' shapes.

    Returns
    -------
    average : list of numpy.ndarray
        The weighted mean, layer by layer.
    total : float
        ``sum n_k``.

    Raises
    ------
    AggregationError
        If the sample total is 0 or the shapes do not fit the vector.
    """
    total = float(summed[-1])
    if total <= 0:
        raise AggregationError("the surviving clients' sample counts add up to 0; cannot weight them")
    sizes = [math.prod(int(d) for d in s) for s in shapes]  # Python ints: no overflow
    if sum(sizes) != summed.size - 1:
        raise AggregationError(f"the layers' shapes {list(shapes)} hold {sum(sizes)} values, but the sum "
                               f"has {summed.size - 1}")
    mean = summed[:-1] / total
    out, pos = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(mean[pos:pos + size].reshape(shape))
        pos += size
    return out, total


def secure_weighted_average(updates: Sequence[tuple[str, Sequence[np.ndarray], float]], *,
                            threshold: int | None = None, dropouts: Iterable[str] = (),
                            fractional_bits: int = 24,
                            round_label: bytes = b"") -> tuple[list[np.ndarray], float]:
    """Average models through secure aggregation: the server learns only ``sum n_k w_k`` and ``sum n_k``.

    Each client's input is ``[n_k * w_k (flattened), n_k]`` in fixed point; the unmasked sum is
    divided out.

    Parameters
    ----------
    updates : sequence of (client_id, layers, num_samples)
        The clients' models.
    threshold, dropouts, fractional_bits, round_label
        As in :func:`secure_sum`.

    Returns
    -------
    average : list of numpy.ndarray
        The sample-weighted mean of the survivors' models, shaped like the first update.
    total : float
        The survivors' sample total.

    Raises
    ------
    ParameterError
        If a client id appears twice, or the updates' layer shapes differ; see also :func:`secure_sum`.
    AggregationError
        If the survivors' sample total is 0, or the round cannot be unmasked.
    """
    if not updates:
        raise AggregationError("no updates to aggregate")
    shapes = [np.shape(a) for a in updates[0][1]]
    vectors = {}
    for cid, layers, n in updates:
        if cid in vectors:
            raise ParameterError(f"client id {cid!r} appears twice in the updates; each client sends one")
        if [np.shape(a) for a in layers] != shapes:
            raise ParameterError(f"the update of {cid!r} has layer shapes {[np.shape(a) for a in layers]}, "
                                 f"the first has {shapes}; every client must send the same model")
        vectors[cid] = weighted_input(layers, n)
    summed = secure_sum(vectors, threshold=threshold, dropouts=dropouts, fractional_bits=fractional_bits,
                        round_label=round_label)
    return split_layers(summed, shapes)
