using Microsoft.Playwright;

namespace Tessera.Demo.Tests;

/// <summary>
/// One headless Debian Chromium for the browser tests, driven by Playwright. Playwright's own browser download does
/// not work everywhere, so the system's <c>/usr/bin/chromium</c> (the <c>chromium</c> package, which <c>./test.sh</c>
/// installs) is launched instead; without it the tests fail, they never skip.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("Chromium is not started.");

    /// <summary>Where the screenshots go: TESSERA_TEST_RESULTS/screenshots when set (./test.sh keeps it), else TestResults/screenshots next to the tests (under bin/, which git ignores).</summary>
    public static string ScreenshotDirectory
    {
        get
        {
            var results = Environment.GetEnvironmentVariable("TESSERA_TEST_RESULTS");
            var directory = string.IsNullOrWhiteSpace(results)
                ? Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots")
                : Path.Combine(Path.GetFullPath(results), "screenshots");
            Directory.CreateDirectory(directory);
            return directory;
        }
    }

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException(
                $"The browser tests need Chromium at {ExecutablePath}, which is missing: install Debian's package (as root: apt-get install chromium), or run ./test.sh as root, which installs it.");
        }
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }
        _playwright?.Dispose();
    }
}
