using System.Security.Cryptography;
using System.Text.Json;

namespace Tessera.AspNetCore.CookieStore;

/// <summary>
/// The optional server-side list behind <see cref="CookieSessionStoreOptions.RevocationStore"/>: one small record per
/// session id, held in any <see cref="ISessionStore"/> until the session's absolute expiry, that says the session was
/// ended (<c>revoked</c>), which credential is its current one (<c>credential</c>, after a regeneration), and which
/// versions of its cookies are current (<see cref="CookieVersionLedger"/>), so that a replayed older cookie set is refused.
/// </summary>
/// <remarks>
/// Each entry is stored as a live session record of that store (id = the session id, a random credential hash nobody
/// holds, the subject <see cref="EntrySubject"/>, both deadlines at the session's absolute expiry) whose data holds the
/// facts, so any store keeps it and its cleanup removes it once expired. The subject keeps entries out of the store's
/// anonymous bound: they are neither evicted nor refused as an anonymous flood would be. A bounded store that evicts
/// records at its total bound (the in-memory store's default policy) would still forget entries and with them
/// revocations and versions: give it room, or <see cref="StoreCapacityPolicy.Reject"/>.
/// </remarks>
internal sealed class CookieRevocationList(ISessionStore store, TimeProvider time, TimeSpan replacedGraceWindow)
{
    /// <summary>
    /// The subject of every entry: <c>tessera:cookie-store</c>. Not a user: it marks the records as the cookie store's
    /// own, so a store's anonymous bound (which protects signed-in sessions from anonymous floods) never counts them.
    /// </summary>
    public const string EntrySubject = "tessera:cookie-store";

    private const string RevokedKey = "revoked";
    private const string CredentialKey = "credential";
    private const int Attempts = 3;

    public ISessionStore Store => store;

    /// <summary>
    /// Why the list refuses <paramref name="record"/> (as its cookie holds it, sealed as <paramref name="version"/>):
    /// <c>revoked</c>, <c>replaced</c> (a later write replaced this cookie set more than the grace window ago), or
    /// <see langword="null"/> when it may be used. One read.
    /// </summary>
    public async ValueTask<string?> RefusalAsync(SessionRecord record, long version, CancellationToken cancellationToken)
    {
        var entry = await store.LoadAsync(record.Id, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return null;
        }
        if (entry.Data.ContainsKey(RevokedKey)
            || (entry.Data.TryGetValue(CredentialKey, out var json)
                && !string.Equals(ReadString(json), Base64UrlText.Encode(record.CredentialHash), StringComparison.Ordinal)))
        {
            return "revoked";
        }
        return CookieVersionLedger.Read(entry.Data).Allows(version, time.GetUtcNow(), replacedGraceWindow) ? null : "replaced";
    }

    /// <summary>
    /// Records a cookie write that starts from <paramref name="baseVersion"/> (the version the request's cookies carried,
    /// or <see langword="null"/> for a new session) and, when given, the session's new credential; returns the version
    /// to seal. One read and one write of the store (a new session's: one write).
    /// </summary>
    public async ValueTask<long> RecordWriteAsync(string id, long? baseVersion, byte[]? credentialHash, DateTimeOffset until, CancellationToken cancellationToken)
    {
        var now = Truncate(time.GetUtcNow());
        var version = (baseVersion ?? 0) + 1;
        for (var attempt = 0; attempt < Attempts && now < until; attempt++)
        {
            // A new session's id is random and fresh: nothing to read the first time.
            var existing = baseVersion is null && attempt == 0 ? null : await store.LoadAsync(id, cancellationToken).ConfigureAwait(false);
            (version, var set, var removed) = CookieVersionLedger.Read(existing?.Data).PlanWrite(baseVersion, now, replacedGraceWindow);
            if (credentialHash is not null)
            {
                set[CredentialKey] = JsonSerializer.Serialize(Base64UrlText.Encode(credentialHash));
            }
            if (existing is null ? await store.CreateAsync(Entry(id, set, now, until), cancellationToken).ConfigureAwait(false) : await store.ApplyAsync(id, new SessionPatch { Set = set, Removed = removed }, cancellationToken).ConfigureAwait(false))
            {
                return version;
            }
        }
        // The entry kept vanishing (it expired with its session, or was deleted): the session has ended either way, and
        // the cookies written with this version expire with it.
        return version;
    }

    /// <summary>Records that a session ended; <see langword="false"/> when it already was, or has expired anyway.</summary>
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset until, CancellationToken cancellationToken)
    {
        var now = Truncate(time.GetUtcNow());
        var revoked = new Dictionary<string, string>(StringComparer.Ordinal) { [RevokedKey] = "true" };
        for (var attempt = 0; attempt < Attempts && now < until; attempt++)
        {
            if (await store.CreateAsync(Entry(id, revoked, now, until), cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
            var existing = await store.LoadAsync(id, cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                // An entry that expired (so did its session, whose absolute expiry it carried) and awaits cleanup, or
                // one deleted in between: try again, then give up, since the session has ended either way.
                continue;
            }
            if (existing.Data.ContainsKey(RevokedKey))
            {
                return false;
            }
            if (await store.ApplyAsync(id, new SessionPatch { Set = revoked }, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }
        return false;
    }

    private static SessionRecord Entry(string id, Dictionary<string, string> data, DateTimeOffset now, DateTimeOffset until) => new()
    {
        Id = id,
        CredentialHash = RandomNumberGenerator.GetBytes(32),
        Subject = EntrySubject,
        Data = data,
        CreatedAt = now,
        LastSeenAt = now,
        IdleExpiresAt = until,
        AbsoluteExpiresAt = until,
    };

    private static string? ReadString(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<string>(json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static DateTimeOffset Truncate(DateTimeOffset now) =>
        new(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
}
