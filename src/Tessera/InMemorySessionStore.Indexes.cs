namespace Tessera;

// How the store keeps a session, and the indexes that make cleanup, eviction and per-subject work cost in proportion to
// what they touch rather than to the store's size. Everything here is used under the store's lock only.
public sealed partial class InMemorySessionStore
{
    /// <summary>
    /// One stored session. Mutable, and never handed out: callers get a <see cref="SessionRecord"/> built from it
    /// (<see cref="ToRecord"/>), with their own copy of the hash. Times are kept as UTC ticks, which is what the indexes
    /// compare; about 128 bytes, against 144 for a <see cref="SessionRecord"/> plus what the indexes would need beside it.
    /// </summary>
    private sealed class Entry
    {
        public const long NotRevoked = long.MinValue;

        public Entry(SessionRecord record, byte[] credentialHash, IReadOnlyDictionary<string, string> data)
        {
            Id = record.Id;
            CredentialHash = credentialHash;
            Subject = record.Subject;
            Data = data;
            Metadata = record.Metadata;
            CreatedTicks = record.CreatedAt.UtcTicks;
            LastSeenTicks = record.LastSeenAt.UtcTicks;
            IdleExpiresTicks = record.IdleExpiresAt.UtcTicks;
            AbsoluteExpiresTicks = record.AbsoluteExpiresAt.UtcTicks;
            RevokedTicks = record.RevokedAt?.UtcTicks ?? NotRevoked;
        }

        public string Id { get; }

        /// <summary>The store's own copy, also the key of the credential index: never mutated, never handed out.</summary>
        public byte[] CredentialHash { get; set; }

        public string? Subject { get; set; }

        /// <summary>Immutable (<see cref="CompactSessionData"/> or <see cref="SessionRecord.EmptyData"/>), so shared with the records handed out.</summary>
        public IReadOnlyDictionary<string, string> Data { get; set; }

        public SessionMetadata Metadata { get; }

        public long CreatedTicks { get; }

        public long LastSeenTicks { get; set; }

        public long IdleExpiresTicks { get; set; }

        public long AbsoluteExpiresTicks { get; }

        public long RevokedTicks { get; set; }

        /// <summary>Where the entry sits in the expiry heap; -1 when outside it.</summary>
        public int ExpiryPosition = -1;

        /// <summary>Where the entry sits in the last-seen heap; -1 when outside it.</summary>
        public int RecencyPosition = -1;

        /// <summary>Where the entry sits in the revocation heap; -1 while not revoked.</summary>
        public int RevokedPosition = -1;

        /// <summary>The neighbours in its subject's list (see <see cref="_subjects"/>); <see langword="null"/> at the ends.</summary>
        public Entry? SubjectPrevious;

        /// <inheritdoc cref="SubjectPrevious"/>
        public Entry? SubjectNext;

        public bool IsRevoked => RevokedTicks != NotRevoked;

        public long ExpiresTicks => Math.Min(IdleExpiresTicks, AbsoluteExpiresTicks);

        /// <summary>The same rule as <see cref="SessionRecord.IsActiveAt"/>.</summary>
        public bool IsActiveAt(long nowTicks) => !IsRevoked && nowTicks < ExpiresTicks;

        /// <summary>
        /// A record for a caller. It shares the immutable data, subject and metadata but gets its own hash array:
        /// the array is mutable, and a caller changing it must not change the store or the next caller's record.
        /// </summary>
        public SessionRecord ToRecord() => new()
        {
            Id = Id,
            CredentialHash = (byte[])CredentialHash.Clone(),
            Subject = Subject,
            Data = Data,
            CreatedAt = Utc(CreatedTicks),
            LastSeenAt = Utc(LastSeenTicks),
            IdleExpiresAt = Utc(IdleExpiresTicks),
            AbsoluteExpiresAt = Utc(AbsoluteExpiresTicks),
            RevokedAt = IsRevoked ? Utc(RevokedTicks) : null,
            Metadata = Metadata,
        };

        private static DateTimeOffset Utc(long ticks) => new(ticks, TimeSpan.Zero);
    }

    /// <summary>Which position field of <see cref="Entry"/> a heap keeps up to date.</summary>
    private interface IHeapPosition
    {
        static abstract ref int Of(Entry entry);
    }

    private readonly struct ExpiryPosition : IHeapPosition
    {
        public static ref int Of(Entry entry) => ref entry.ExpiryPosition;
    }

    private readonly struct RecencyPosition : IHeapPosition
    {
        public static ref int Of(Entry entry) => ref entry.RecencyPosition;
    }

    private readonly struct RevokedPosition : IHeapPosition
    {
        public static ref int Of(Entry entry) => ref entry.RevokedPosition;
    }

    /// <summary>
    /// A min-heap of entries by a tick key, each entry knowing its position, so that taking the smallest, removing
    /// any entry and moving one when its key changes are all O(log n). The key sits beside the entry in the array, so
    /// sifting compares without touching the entries.
    /// </summary>
    private sealed class EntryHeap<TPosition>
        where TPosition : struct, IHeapPosition
    {
        // Four children per node: half the depth of a binary heap, so half the entries whose position is rewritten
        // (each a likely cache miss at a million sessions), and the four keys compared sit in one or two cache lines.
        private const int Arity = 4;

        private Slot[] _slots = [];

        public int Count { get; private set; }

        public bool TryPeek(out Entry entry, out long key)
        {
            if (Count == 0)
            {
                entry = null!;
                key = 0;
                return false;
            }
            (entry, key) = (_slots[0].Entry, _slots[0].Key);
            return true;
        }

        public void Add(Entry entry, long key)
        {
            if (Count == _slots.Length)
            {
                Array.Resize(ref _slots, Math.Max(16, _slots.Length * 2));
            }
            _slots[Count] = new Slot(key, entry);
            TPosition.Of(entry) = Count;
            SiftUp(Count++);
        }

        /// <summary>Removes the entry; a no-op when it is not in this heap.</summary>
        public void Remove(Entry entry)
        {
            ref var position = ref TPosition.Of(entry);
            var at = position;
            if (at < 0)
            {
                return;
            }
            position = -1;
            var last = --Count;
            if (at != last)
            {
                _slots[at] = _slots[last];
                TPosition.Of(_slots[at].Entry) = at;
                _slots[last] = default;
                Restore(at);
            }
            else
            {
                _slots[last] = default;
            }
        }

        /// <summary>Gives an entry in the heap a new key.</summary>
        public void Update(Entry entry, long key)
        {
            var at = TPosition.Of(entry);
            if (at >= 0 && _slots[at].Key != key)
            {
                _slots[at].Key = key;
                Restore(at);
            }
        }

        public void Clear()
        {
            foreach (ref var slot in _slots.AsSpan(0, Count))
            {
                TPosition.Of(slot.Entry) = -1;
            }
            _slots = [];
            Count = 0;
        }

        private void Restore(int at)
        {
            if (!SiftUp(at))
            {
                SiftDown(at);
            }
        }

        private bool SiftUp(int at)
        {
            var moving = _slots[at];
            var start = at;
            while (at > 0)
            {
                var parent = (at - 1) / Arity;
                if (_slots[parent].Key <= moving.Key)
                {
                    break;
                }
                Place(at, _slots[parent]);
                at = parent;
            }
            Place(at, moving);
            return at != start;
        }

        private void SiftDown(int at)
        {
            var moving = _slots[at];
            while (true)
            {
                var first = (at * Arity) + 1;
                if (first >= Count)
                {
                    break;
                }
                var child = first;
                var end = Math.Min(first + Arity, Count);
                for (var i = first + 1; i < end; i++)
                {
                    if (_slots[i].Key < _slots[child].Key)
                    {
                        child = i;
                    }
                }
                if (moving.Key <= _slots[child].Key)
                {
                    break;
                }
                Place(at, _slots[child]);
                at = child;
            }
            Place(at, moving);
        }

        private void Place(int at, Slot slot)
        {
            _slots[at] = slot;
            TPosition.Of(slot.Entry) = at;
        }

        private struct Slot(long key, Entry entry)
        {
            public long Key = key;
            public readonly Entry Entry = entry;
        }
    }
}
