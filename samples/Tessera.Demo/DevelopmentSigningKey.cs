namespace Tessera.Demo;

/// <summary>
/// The signing key the demo uses in Development when <c>Tessera:Keys</c> is empty: generated once, kept in
/// <c>dev-signing-key</c> in the data directory (readable by the owner only) and reused, so cookies survive restarts.
/// </summary>
internal sealed class DevelopmentSigningKey
{
    public const string FileName = "dev-signing-key";

    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private DevelopmentSigningKey(string key, string path, bool created)
    {
        Key = key;
        Path = path;
        Created = created;
    }

    /// <summary>The key as base64. Never log it.</summary>
    public string Key { get; }

    /// <summary>The file it is kept in.</summary>
    public string Path { get; }

    /// <summary>Whether this start generated it (otherwise it was read from <see cref="Path"/>).</summary>
    public bool Created { get; }

    public static DevelopmentSigningKey LoadOrCreate(string dataDirectory)
    {
        CreateDirectory(dataDirectory);
        var path = System.IO.Path.Combine(dataDirectory, FileName);
        if (File.Exists(path))
        {
            return new DevelopmentSigningKey(Read(path), path, created: false);
        }
        var key = SigningKeyRing.GenerateBase64Key();
        try
        {
            // CreateNew: two demos started at once must not overwrite each other's key; the loser reads the winner's.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerOnlyFile;
            }
            using (var stream = new FileStream(path, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(key);
                writer.Write('\n');
            }
            return new DevelopmentSigningKey(key, path, created: true);
        }
        catch (IOException) when (File.Exists(path))
        {
            return new DevelopmentSigningKey(Read(path), path, created: false);
        }
    }

    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, OwnerOnlyDirectory);
        }
    }

    private static string Read(string path)
    {
        string key;
        try
        {
            key = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DemoConfigurationException($"The development signing key file {path} cannot be read ({e.GetType().Name}); fix its permissions or delete it to generate a new one.", e);
        }
        try
        {
            _ = SigningKeyRing.FromBase64([key]);
        }
        catch (ArgumentException)
        {
            // The message never includes the file's content: it is a secret, even if a broken one.
            throw new DemoConfigurationException($"The development signing key file {path} does not hold a base64 key of at least {SigningKeyRing.MinimumKeyBytes} bytes; delete it to generate a new one.");
        }
        return key;
    }
}
