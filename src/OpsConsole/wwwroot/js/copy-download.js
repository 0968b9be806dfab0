// Copy text and download a file, for every page that offers them (a module, so the content security policy's script-src 'self' holds).
export async function copyText(text) {
    await navigator.clipboard.writeText(text);
}

export function download(fileName, mimeType, text) {
    const url = URL.createObjectURL(new Blob([text], { type: mimeType }));
    const link = document.createElement("a");
    link.href = url;
    link.download = fileName;
    document.body.appendChild(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
}
