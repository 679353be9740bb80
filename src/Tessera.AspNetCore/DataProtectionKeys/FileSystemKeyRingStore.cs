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
    public async ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }
        var text = await File.ReadAllTextAsync(FilePath, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(text, KeyRingJsonContext.Default.StoredKeyRing)
            ?? throw new InvalidOperationException($"{FileName} is not a key ring file.");
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
