namespace Tessera;

/// <summary>
/// A stored key ring document and its version, as an <see cref="IKeyRingStore"/> keeps it. The document is opaque to the
/// store: <c>UseDataProtectionKeys()</c> writes a JSON text whose key material is protected by the application's Data
/// Protection, so the store never holds a usable key.
/// </summary>
/// <param name="Version">The version the document was saved as: 1 for the first save, one more for each save after it.</param>
/// <param name="Document">The document, as saved.</param>
public sealed record StoredKeyRing(long Version, string Document);

/// <summary>
/// Optional store capability: keeps the one document in which Tessera's generated keys live (see
/// <c>UseDataProtectionKeys()</c>), so every application instance that shares the store finds the same keys. Writes are
/// compare-and-swap on the version, so two instances that both decide to add a key cannot both succeed: the loser
/// reloads and finds the winner's key. The memory, SQLite, PostgreSQL and Redis stores implement it; an application can
/// implement it to keep the keys somewhere else.
/// </summary>
public interface IKeyRingStore
{
    /// <summary>Loads the key ring document.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The document and its version, or <see langword="null"/> when none was ever saved.</returns>
    ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves the key ring document as version <paramref name="expectedVersion"/> + 1, only if the stored version is still
    /// <paramref name="expectedVersion"/> (0: only if no document was ever saved). Atomic across every process that
    /// shares the store.
    /// </summary>
    /// <param name="expectedVersion">The version the caller loaded, or 0 when it loaded none.</param>
    /// <param name="document">The new document.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when saved; <see langword="false"/> when another writer saved first (nothing was written).</returns>
    ValueTask<bool> TrySaveKeyRingAsync(long expectedVersion, string document, CancellationToken cancellationToken = default);
}
