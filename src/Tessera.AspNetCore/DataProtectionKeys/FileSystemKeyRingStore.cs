using System.Text.Json;

namespace Tessera.AspNetCore.DataProtectionKeys;

/// <summary>
/// Keeps Tessera's generated key ring in a directory (<c>tessera-key-ring.json</c>), for a store that cannot keep it (the
/// encrypted cookie store) or an application that wants its keys beside Data Protection's. Every instance must see the
/// same directory (a shared volume). A save takes an exclusive lock file (<c>tessera-key-ring.lock</c>) in the directory,
/// compares the version and replaces the file by an atomic rename, so readers never see half a file.
/// </summary>
public sealed class FileSystemKeyRingStore : IKeyRingStore
{
    private const string FileName = "tessera-key-ring.json";
    private const string LockName = "tessera-key-ring.lock";

    // How long a save waits for another process's lock: 10 seconds in 20 ms steps.
    private static readonly TimeSpan LockRetryDelay = TimeSpan.FromMilliseconds(20);
    private const int LockAttempts = 500;

    private readonly DirectoryInfo _directory;

    /// <summary>Creates a store over a directory; the directory is created at the first save.</summary>
    /// <param name="directory">The directory every instance shares.</param>
    public FileSystemKeyRingStore(DirectoryInfo directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        _directory = directory;
    }

    private string FilePath => Path.Combine(_directory.FullName, FileName);

    /// <inheritdoc />
    /// <remarks>A missing file (or directory) is no key ring yet: <see langword="null"/>, and the first save creates it.</remarks>
    /// <exception cref="InvalidOperationException">
    /// The file is not a key ring file (not JSON, truncated, without a version or a document, or a document this version
    /// does not understand). The message names the file's path and never shows its content.
    /// </exception>
    public async ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(FilePath, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        StoredKeyRing? stored;
        try
        {
            stored = JsonSerializer.Deserialize(text, KeyRingJsonContext.Default.StoredKeyRing);
        }
        catch (JsonException e)
        {
            // Not the exception's own message (nor it as the inner exception): it may quote the file's text.
            throw Unreadable($"it is not valid JSON (line {e.LineNumber}, byte {e.BytePositionInLine})");
        }
        if (stored is not { Version: > 0, Document: not null })
        {
            throw Unreadable("it has no version or no document");
        }
        try
        {
            KeyRingDocument.Parse(stored.Document);
        }
        catch (InvalidOperationException)
        {
            throw Unreadable("its document is not a key ring document this version understands");
        }
        return stored;
    }

    /// <inheritdoc />
    /// <exception cref="TimeoutException">Another process held the lock file for more than 10 seconds.</exception>
    public async ValueTask<bool> TrySaveKeyRingAsync(long expectedVersion, string document, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        Directory.CreateDirectory(_directory.FullName);
        using var held = await LockAsync(cancellationToken).ConfigureAwait(false);
        var current = await LoadKeyRingAsync(cancellationToken).ConfigureAwait(false);
        if ((current?.Version ?? 0) != expectedVersion)
        {
            return false;
        }
        var temporary = FilePath + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(new StoredKeyRing(expectedVersion + 1, document), KeyRingJsonContext.Default.StoredKeyRing), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, FilePath, overwrite: true);
        return true;
    }

    // Restoring the file from a backup keeps the keys; deleting it generates new ones, and every cookie and token signed
    // with the old ones stops working.
    private InvalidOperationException Unreadable(string why) => new(
        $"Tessera's key ring file {FilePath} cannot be read: {why}. Restore it from a backup, or delete it to generate new keys "
        + "(every session cookie and token signed with the old keys then stops working). Its content is not shown: it holds the keys.");

    private async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(_directory.FullName, LockName);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < LockAttempts)
            {
                await Task.Delay(LockRetryDelay, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new TimeoutException($"Another process held {LockName} in the key ring directory for more than 10 seconds.", e);
            }
        }
    }
}
