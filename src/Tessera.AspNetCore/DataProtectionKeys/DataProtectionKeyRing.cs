using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tessera.AspNetCore.DataProtectionKeys;

/// <summary>
/// Tessera's generated keys under <c>UseDataProtectionKeys()</c>: loads them from an <see cref="IKeyRingStore"/>,
/// unprotects them with the application's Data Protection, generates the first key and each successor, and keeps
/// <see cref="Ring"/> current as keys activate and retire. One per application (a singleton); thread-safe.
/// </summary>
/// <remarks>
/// A key signs from its activation until its expiry (<see cref="TesseraDataProtectionKeyOptions.KeyLifetime"/>) and
/// verifies from its creation until <see cref="TesseraDataProtectionKeyOptions.RetiredKeyRetention"/> after its expiry.
/// A successor is generated <see cref="TesseraDataProtectionKeyOptions.PropagationTime"/> before the current key expires
/// and activates when it expires, so every instance has it before any instance signs with it. Only the very first key
/// (or one generated after every key expired) activates at once. Saves are compare-and-swap: of two instances that both
/// generate a key, one saves and the other reloads and uses the saved key, so instances never sign with keys the others
/// do not know.
/// </remarks>
public sealed partial class DataProtectionKeyRing
{
    private const int MaxSaveAttempts = 5;

    private readonly IKeyRingStore _store;
    private readonly IDataProtector _protector;
    private readonly TesseraDataProtectionKeyOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private SigningKeyRing? _ring;
    private long _nextRefreshTicks;

    /// <summary>Creates the key ring manager; it reads nothing until <see cref="RefreshAsync"/>.</summary>
    /// <param name="store">Where the keys are kept.</param>
    /// <param name="dataProtection">The application's Data Protection; the keys are protected under <see cref="TesseraDataProtectionKeyDefaults.Purpose"/>.</param>
    /// <param name="options">Rotation options.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="logger">The logger.</param>
    public DataProtectionKeyRing(IKeyRingStore store, IDataProtectionProvider dataProtection, IOptions<TesseraDataProtectionKeyOptions> options, TimeProvider timeProvider, ILogger<DataProtectionKeyRing> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(dataProtection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _protector = dataProtection.CreateProtector(TesseraDataProtectionKeyDefaults.Purpose);
        _options = options.Value;
        _time = timeProvider;
        _logger = logger;
    }

    /// <summary>
    /// The ring the session manager signs and verifies with: the active key first, then every other key that still
    /// verifies (successors not yet active, retired keys within their retention). Loaded on first use if
    /// <see cref="RefreshAsync"/> has not run yet.
    /// </summary>
    /// <exception cref="InvalidOperationException">The keys could not be loaded or generated (see <see cref="RefreshAsync"/>).</exception>
    public SigningKeyRing Ring => Volatile.Read(ref _ring) ?? LoadNow();

    /// <summary>When the ring is due to be read again: the refresh interval after the last read, or sooner when a known key activates or expires.</summary>
    public DateTimeOffset NextRefreshAt => new(Interlocked.Read(ref _nextRefreshTicks), TimeSpan.Zero);

    /// <summary>
    /// Reads the key ring from the store, generates a key when one is due (the first, or the successor of a key that
    /// expires within <see cref="TesseraDataProtectionKeyOptions.PropagationTime"/>), saves it (compare-and-swap) and
    /// replaces <see cref="Ring"/>. Concurrent calls run one after the other.
    /// </summary>
    /// <param name="cancellationToken">Cancels the store calls.</param>
    /// <returns>A task.</returns>
    /// <exception cref="InvalidOperationException">
    /// The stored keys cannot be unprotected with this application's Data Protection key ring (another application name or
    /// key ring wrote them), the document is not readable, or the save lost to other writers five times in a row. The
    /// message names key ids, never a key. A ring already loaded stays in use.
    /// </exception>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; attempt <= MaxSaveAttempts; attempt++)
            {
                var stored = await _store.LoadKeyRingAsync(cancellationToken).ConfigureAwait(false);
                var now = _time.GetUtcNow();
                var document = KeyRingDocument.Parse(stored?.Document);
                var readable = Unprotect(document);
                var due = NewKeyDue(readable, now);
                // Keys past their retention leave the document at the next save, or at once when one is due anyway.
                var kept = document.Keys.Where(k => k.ExpiresAt + _options.RetiredKeyRetention > now).ToList();
                if (due is null && kept.Count == document.Keys.Count)
                {
                    Apply(readable, now);
                    return;
                }
                (GeneratedKey Key, byte[] Material)? generated = due is { } activatesAt ? Generate(activatesAt, now) : null;
                if (generated is { } added)
                {
                    kept.Add(added.Key);
                }
                if (await _store.TrySaveKeyRingAsync(stored?.Version ?? 0, new KeyRingDocument(KeyRingDocument.CurrentFormat, kept).Serialize(), cancellationToken).ConfigureAwait(false))
                {
                    readable.RemoveAll(k => k.Key.ExpiresAt + _options.RetiredKeyRetention <= now);
                    if (generated is { } saved)
                    {
                        Log.KeyGenerated(_logger, saved.Key.Id, saved.Key.ActivatesAt, saved.Key.ExpiresAt);
                        readable.Add(saved);
                    }
                    Apply(readable, now);
                    return;
                }
                Log.SavedByAnother(_logger, attempt);
            }
            throw new InvalidOperationException($"Tessera could not save its key ring: other instances saved first {MaxSaveAttempts} times in a row.");
        }
        finally
        {
            _gate.Release();
        }
    }

    private SigningKeyRing LoadNow()
    {
        // Only when something needs the keys before the host started (the hosted service loads them at start-up).
        RefreshAsync(CancellationToken.None).GetAwaiter().GetResult();
        return Volatile.Read(ref _ring)!;
    }

    private List<(GeneratedKey Key, byte[] Material)> Unprotect(KeyRingDocument document)
    {
        var readable = new List<(GeneratedKey, byte[])>(document.Keys.Count);
        var unreadable = new List<string>();
        foreach (var key in document.Keys)
        {
            try
            {
                readable.Add((key, _protector.Unprotect(Convert.FromBase64String(key.Material))));
            }
            catch (Exception e) when (e is CryptographicException or FormatException)
            {
                unreadable.Add(key.Id);
            }
        }
        if (unreadable.Count == 0)
        {
            return readable;
        }
        var ids = string.Join(", ", unreadable);
        Log.KeysUnreadable(_logger, unreadable.Count, ids);
        if (readable.Count == 0)
        {
            // Generating keys of our own would make the other instances' cookies and tokens fail here and ours fail there.
            throw new InvalidOperationException(
                $"Tessera's key ring holds {unreadable.Count} key(s) ({ids}) that this instance's Data Protection cannot unprotect: " +
                "they were written by an instance with another Data Protection key ring or application name. Give every instance the same " +
                "Data Protection key ring (SetApplicationName and a shared key store such as PersistKeysToFileSystem), or keep this " +
                "application's keys in another place (UseDataProtectionKeys(o => o.Store = ...)).");
        }
        return readable;
    }

    // When the next key must start signing, or null when none is due: now when no key is active (the first start, or
    // every key expired), else the expiry of the last key once it is within the propagation time.
    private DateTimeOffset? NewKeyDue(List<(GeneratedKey Key, byte[] Material)> readable, DateTimeOffset now)
    {
        if (!readable.Exists(k => k.Key.ActivatesAt <= now && now < k.Key.ExpiresAt))
        {
            return now;
        }
        var last = readable.Max(k => k.Key.ExpiresAt);
        return last - now <= _options.PropagationTime ? last : null;
    }

    private (GeneratedKey Key, byte[] Material) Generate(DateTimeOffset activatesAt, DateTimeOffset now)
    {
        var material = RandomNumberGenerator.GetBytes(SigningKeyRing.MinimumKeyBytes);
        var id = new SigningKeyRing([material]).Current.Id;
        var key = new GeneratedKey(id, now, activatesAt, activatesAt + _options.KeyLifetime, Convert.ToBase64String(_protector.Protect(material)));
        return (key, material);
    }

    private void Apply(List<(GeneratedKey Key, byte[] Material)> readable, DateTimeOffset now)
    {
        var verifying = readable.Where(k => k.Key.ExpiresAt + _options.RetiredKeyRetention > now).ToList();
        // The newest active key signs; a tie (never expected: saves are compare-and-swap) is broken the same way everywhere.
        var signer = verifying
            .Where(k => k.Key.ActivatesAt <= now && now < k.Key.ExpiresAt)
            .OrderByDescending(k => k.Key.ActivatesAt).ThenByDescending(k => k.Key.CreatedAt).ThenBy(k => k.Key.Id, StringComparer.Ordinal)
            .FirstOrDefault();
        if (signer.Material is null)
        {
            throw new InvalidOperationException("Tessera's key ring has no active key.");
        }
        var ordered = verifying.Where(k => !ReferenceEquals(k.Material, signer.Material)).OrderByDescending(k => k.Key.ActivatesAt).Select(k => k.Material).Prepend(signer.Material);
        if (Volatile.Read(ref _ring) is { } ring)
        {
            ring.Replace(ordered);
        }
        else
        {
            Volatile.Write(ref _ring, new SigningKeyRing(ordered));
        }
        var next = now + _options.RefreshInterval;
        foreach (var (key, _) in verifying)
        {
            foreach (var moment in new[] { key.ActivatesAt, key.ExpiresAt })
            {
                if (moment > now && moment < next)
                {
                    next = moment;
                }
            }
        }
        Interlocked.Exchange(ref _nextRefreshTicks, next.UtcTicks);
    }

    private static partial class Log
    {
        [LoggerMessage(2601, LogLevel.Information, "Tessera generated key {KeyId}: it signs from {ActivatesAt:O} until {ExpiresAt:O}.")]
        public static partial void KeyGenerated(ILogger logger, string keyId, DateTimeOffset activatesAt, DateTimeOffset expiresAt);

        [LoggerMessage(2602, LogLevel.Error, "Tessera's key ring holds {Count} key(s) ({KeyIds}) that this instance's Data Protection cannot unprotect (another Data Protection key ring or application name wrote them).")]
        public static partial void KeysUnreadable(ILogger logger, int count, string keyIds);

        [LoggerMessage(2603, LogLevel.Debug, "Another instance saved Tessera's key ring first (attempt {Attempt}); reading it again.")]
        public static partial void SavedByAnother(ILogger logger, int attempt);

        [LoggerMessage(2604, LogLevel.Warning, "Reading Tessera's key ring failed ({ErrorType}); the keys in memory stay in use and it is read again at {NextAttempt:O}.")]
        public static partial void RefreshFailed(ILogger logger, string errorType, DateTimeOffset nextAttempt, Exception exception);
    }

    /// <summary>Reads the ring again when it is due, until the host stops; a failed read keeps the keys in memory.</summary>
    internal async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            var wait = NextRefreshAt - _time.GetUtcNow();
            try
            {
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _time, stopping).ConfigureAwait(false);
                }
                await RefreshAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Retry after a tenth of the interval rather than hammering a store that is down.
                var retryAt = _time.GetUtcNow() + (_options.RefreshInterval / 10);
                Interlocked.Exchange(ref _nextRefreshTicks, retryAt.UtcTicks);
                Log.RefreshFailed(_logger, e.GetType().Name, retryAt, e);
            }
        }
    }
}
