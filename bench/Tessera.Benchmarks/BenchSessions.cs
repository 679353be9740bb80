using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Tessera.Benchmarks;

/// <summary>What the benchmarks share: a manager over a store, and records to fill stores with.</summary>
public static class BenchSessions
{
    /// <summary>One signing key for every benchmark of a run.</summary>
    public static readonly string Key = SigningKeyRing.GenerateBase64Key();

    /// <summary>Options with <see cref="Key"/>, cleanup off, everything else at its default.</summary>
    public static TesseraOptions Options()
    {
        var options = new TesseraOptions { CleanupEnabled = false };
        options.Keys.Add(Key);
        return options;
    }

    /// <summary>A manager over a store, on a clock.</summary>
    public static SessionManager Manager(ISessionStore store, TimeProvider clock) =>
        new(store, Microsoft.Extensions.Options.Options.Create(Options()), clock);

    /// <summary>
    /// A live session record as the core would create it: a random UUID id, the hash of a fresh credential, idle and
    /// absolute deadlines from <paramref name="now"/>.
    /// </summary>
    /// <param name="hash">The credential hash (SHA-256 of the token).</param>
    /// <param name="now">The creation time.</param>
    /// <param name="lifetime">How long until it expires.</param>
    /// <param name="subject">The subject, or <see langword="null"/>.</param>
    /// <param name="data">The data, or <see langword="null"/> for none.</param>
    public static SessionRecord Record(byte[] hash, DateTimeOffset now, TimeSpan lifetime, string? subject = null, IReadOnlyDictionary<string, string>? data = null) => new()
    {
        Id = Guid.NewGuid().ToString("D"),
        CredentialHash = hash,
        Subject = subject,
        Data = data ?? new Dictionary<string, string>(StringComparer.Ordinal),
        CreatedAt = now,
        LastSeenAt = now,
        IdleExpiresAt = now + lifetime,
        AbsoluteExpiresAt = now + lifetime,
    };

    /// <summary>A random 32-byte credential hash (for records nobody presents a cookie for).</summary>
    public static byte[] RandomHash() => RandomNumberGenerator.GetBytes(32);

    /// <summary>
    /// Stores a live session with <paramref name="data"/> through the manager's credential format and returns the
    /// cookie text that finds it.
    /// </summary>
    public static async Task<string> CreateLiveAsync(SessionManager manager, TimeProvider clock, string? subject = null, IReadOnlyDictionary<string, string>? data = null)
    {
        var now = clock.GetUtcNow();
        var record = Record(RandomHash(), new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero), TimeSpan.FromHours(8), subject, data);
        var credential = manager.Credentials.Issue(SessionRoute.Of(record.Id));
        record = record with { CredentialHash = credential.Hash };
        if (!await manager.Store.CreateAsync(record))
        {
            throw new InvalidOperationException("The store refused a new session.");
        }
        return credential.Value;
    }
}
