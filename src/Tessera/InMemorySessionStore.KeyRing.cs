namespace Tessera;

// The generated key ring (UseDataProtectionKeys): one document, swapped under a lock. It lives and dies with the process,
// like the sessions, so every restart generates new keys (and every cookie signed before it fails, as its session did).
public sealed partial class InMemorySessionStore : IKeyRingStore
{
    private readonly Lock _keyRingLock = new();
    private StoredKeyRing? _keyRing;

    /// <inheritdoc />
    public ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default)
    {
        lock (_keyRingLock)
        {
            return ValueTask.FromResult(_keyRing);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> TrySaveKeyRingAsync(long expectedVersion, string document, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        lock (_keyRingLock)
        {
            if ((_keyRing?.Version ?? 0) != expectedVersion)
            {
                return ValueTask.FromResult(false);
            }
            _keyRing = new StoredKeyRing(expectedVersion + 1, document);
            return ValueTask.FromResult(true);
        }
    }
}
