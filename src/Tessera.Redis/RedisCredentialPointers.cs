using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Tessera.Redis;

/// <summary>
/// Which session a credential found, remembered by the store that found it, so that its next read of the same credential
/// is one <c>HGETALL</c> of the session's hash instead of the lookup script (which follows the credential's pointer key
/// first). Safe without invalidation: the hash holds the session's current credential hash and its revocation, and
/// the store serves a remembered read only when the hash still holds this credential and is live; anything else
/// (another instance revoked, renewed or deleted the session, it expired, Redis lost it) forgets the entry and runs the
/// lookup script as if nothing were remembered.
/// </summary>
/// <remarks>
/// Holds at most <see cref="Capacity"/> entries: a credential's SHA-256 and its session's id, never the session. When
/// full, the entries of sessions past their absolute expiry are dropped, and if that frees less than a quarter, all
/// of them: the next read of each credential runs the script again and remembers it anew.
/// </remarks>
internal sealed class RedisCredentialPointers(int capacity, TimeProvider time)
{
    private readonly ConcurrentDictionary<Sha256, Entry> _entries = new();
    private int _trimming;

    /// <summary>The most entries held; 0 remembers nothing.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>How many entries are held now.</summary>
    public int Count => _entries.Count;

    /// <summary>The session id <paramref name="credentialHash"/> found last time, if it is remembered.</summary>
    public bool TryGet(ReadOnlySpan<byte> credentialHash, out string sessionId)
    {
        if (Capacity > 0 && Sha256.TryRead(credentialHash, out var key) && _entries.TryGetValue(key, out var entry))
        {
            sessionId = entry.SessionId;
            return true;
        }
        sessionId = "";
        return false;
    }

    /// <summary>Remembers that <paramref name="credentialHash"/> found the session <paramref name="sessionId"/>, which ends by <paramref name="absoluteExpiresAt"/> at the latest.</summary>
    public void Remember(ReadOnlySpan<byte> credentialHash, string sessionId, DateTimeOffset absoluteExpiresAt)
    {
        if (Capacity == 0 || !Sha256.TryRead(credentialHash, out var key))
        {
            return;
        }
        if (_entries.Count >= Capacity)
        {
            Trim();
            if (_entries.Count >= Capacity)
            {
                return; // another thread is trimming, or filled it again: not remembered this time
            }
        }
        _entries[key] = new Entry(sessionId, absoluteExpiresAt.ToUnixTimeMilliseconds());
    }

    /// <summary>Forgets what <paramref name="credentialHash"/> found.</summary>
    public void Forget(ReadOnlySpan<byte> credentialHash)
    {
        if (Sha256.TryRead(credentialHash, out var key))
        {
            _entries.TryRemove(key, out _);
        }
    }

    private void Trim()
    {
        if (Interlocked.Exchange(ref _trimming, 1) != 0)
        {
            return;
        }
        try
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var (key, entry) in _entries)
            {
                if (entry.AbsoluteExpiresAtMs <= now)
                {
                    _entries.TryRemove(key, out _);
                }
            }
            if (_entries.Count > Capacity - Capacity / 4)
            {
                _entries.Clear();
            }
        }
        finally
        {
            Volatile.Write(ref _trimming, 0);
        }
    }

    private readonly record struct Entry(string SessionId, long AbsoluteExpiresAtMs);

    /// <summary>A SHA-256 as a value: compared and hashed without a string or an array per lookup.</summary>
    private readonly record struct Sha256(UInt128 High, UInt128 Low)
    {
        public static bool TryRead(ReadOnlySpan<byte> hash, out Sha256 value)
        {
            if (hash.Length != 32)
            {
                value = default;
                return false;
            }
            value = new Sha256(MemoryMarshal.Read<UInt128>(hash), MemoryMarshal.Read<UInt128>(hash[16..]));
            return true;
        }
    }
}
