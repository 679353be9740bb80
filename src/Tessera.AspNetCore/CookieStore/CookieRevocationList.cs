using System.Security.Cryptography;
using System.Text.Json;

namespace Tessera.AspNetCore.CookieStore;

/// <summary>
/// The optional server-side list behind <see cref="CookieSessionStoreOptions.RevocationStore"/>: at most one small
/// record per session id, held in any <see cref="ISessionStore"/> until the session's absolute expiry, that says the
/// session was ended (<c>revoked</c>) or which credential is its current one (<c>credential</c>, after a regeneration).
/// A session without a record is allowed; the list grows only with sessions that were regenerated or ended.
/// </summary>
/// <remarks>
/// Each entry is stored as a live session record of that store (id = the session id, a random credential hash nobody
/// holds, no subject, both deadlines at the session's absolute expiry) whose data holds the facts, so any store keeps
/// it and its cleanup removes it once expired. A bounded store that evicts records (the in-memory store's default
/// policy) would forget entries and with them revocations: give it room, or <see cref="StoreCapacityPolicy.Reject"/>.
/// </remarks>
internal sealed class CookieRevocationList(ISessionStore store, TimeProvider time)
{
    private const string RevokedKey = "revoked";
    private const string CredentialKey = "credential";
    private const int Attempts = 3;

    public ISessionStore Store => store;

    /// <summary>Whether the list lets <paramref name="record"/> (as its cookie holds it) be used: one read.</summary>
    public async ValueTask<bool> AllowsAsync(SessionRecord record, CancellationToken cancellationToken)
    {
        var entry = await store.LoadAsync(record.Id, cancellationToken);
        if (entry is null)
        {
            return true;
        }
        if (entry.Data.ContainsKey(RevokedKey))
        {
            return false;
        }
        return !entry.Data.TryGetValue(CredentialKey, out var json)
            || string.Equals(ReadString(json), Base64UrlText.Encode(record.CredentialHash), StringComparison.Ordinal);
    }

    /// <summary>Records that a session ended; <see langword="false"/> when it already was, or has expired anyway.</summary>
    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset until, CancellationToken cancellationToken) =>
        MarkAsync(id, RevokedKey, "true", until, onlyOnce: true, cancellationToken);

    /// <summary>Records a session's new credential: every earlier one is dead from now on.</summary>
    public ValueTask<bool> ReplaceCredentialAsync(string id, byte[] credentialHash, DateTimeOffset until, CancellationToken cancellationToken) =>
        MarkAsync(id, CredentialKey, JsonSerializer.Serialize(Base64UrlText.Encode(credentialHash)), until, onlyOnce: false, cancellationToken);

    private async ValueTask<bool> MarkAsync(string id, string key, string json, DateTimeOffset until, bool onlyOnce, CancellationToken cancellationToken)
    {
        var now = Truncate(time.GetUtcNow());
        for (var attempt = 0; attempt < Attempts && now < until; attempt++)
        {
            var entry = new SessionRecord
            {
                Id = id,
                CredentialHash = RandomNumberGenerator.GetBytes(32),
                Data = new Dictionary<string, string>(StringComparer.Ordinal) { [key] = json },
                CreatedAt = now,
                LastSeenAt = now,
                IdleExpiresAt = until,
                AbsoluteExpiresAt = until,
            };
            if (await store.CreateAsync(entry, cancellationToken))
            {
                return true;
            }
            var existing = await store.LoadAsync(id, cancellationToken);
            if (existing is null)
            {
                // An entry that expired (so did its session, whose absolute expiry it carried) and awaits cleanup, or
                // one deleted in between: try again, then give up, since the session has ended either way.
                continue;
            }
            if (onlyOnce && existing.Data.ContainsKey(key))
            {
                return false;
            }
            var patch = new SessionPatch { Set = new Dictionary<string, string>(StringComparer.Ordinal) { [key] = json } };
            if (await store.ApplyAsync(id, patch, cancellationToken))
            {
                return true;
            }
        }
        return false;
    }

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
